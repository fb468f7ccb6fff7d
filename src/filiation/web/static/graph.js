// The interactive graph of a genealogy (Cytoscape.js), shared by the model, data set and
// author pages (templates/_graph.html). The lineage comes from the JSON API route named by
// the view's data-source; the controls' named fields are its query parameters, so filtering
// happens in the service, as for the CLI. Expert mode adds node filters, a sortable table of
// what is drawn and downloads (the export route with the same parameters, and a PNG).
"use strict";

(function () {
  var F = window.filiation;
  var el = F.el;
  var RELATIONS = ["finetune", "quantized", "adapter", "merge", "unspecified", "trained_on", "published_by"];
  var EXPAND = 40;          // neighbours added per expansion
  var X_GAP = 110, ROW_GAP = 74, LAYER_GAP = 120;

  var css = getComputedStyle(document.documentElement);
  function color(name, fallback) { return (css.getPropertyValue(name) || "").trim() || fallback; }

  function styles() {
    var s = [
      { selector: "node", style: { "background-color": color("--kind-model", "#2f6fdb"), width: "data(size)", height: "data(size)", label: "data(label)", "font-size": "mapData(size, 14, 50, 11, 16)", color: color("--ink", "#222"), "text-valign": "bottom", "text-margin-y": 3, "min-zoomed-font-size": 7, "text-wrap": "ellipsis", "text-max-width": 104, "text-background-color": color("--card", "#fff"), "text-background-opacity": 0.75, "text-background-padding": 1, "border-width": 1, "border-color": "#fff" } },
      { selector: "node[kind = \"dataset\"]", style: { "background-color": color("--kind-dataset", "#2e9e5b"), shape: "round-rectangle" } },
      { selector: "node[kind = \"author\"]", style: { "background-color": color("--kind-author", "#d9822b"), shape: "diamond" } },
      { selector: "node[stub = 1]", style: { "background-color": color("--stub", "#aaa"), "border-style": "dashed", "border-color": "#666", "border-width": 2 } },
      { selector: "node[root = 1]", style: { "border-width": 4, "border-color": color("--ink", "#222"), "font-weight": "bold", "font-size": 16, "min-zoomed-font-size": 4, "text-max-width": 320, "text-background-opacity": 0.9 } },
      { selector: "node:selected", style: { "overlay-color": color("--accent", "#b03060"), "overlay-opacity": 0.25 } },
      { selector: "edge", style: { width: 1.4, "curve-style": "bezier", "target-arrow-shape": "triangle", "arrow-scale": 0.8, "line-color": "#999", "target-arrow-color": "#999", opacity: 0.8 } },
      // A link inside one generation's band (a merge of two models of the same generation)
      // would run straight through the nodes between them: it arcs over them instead.
      { selector: "edge.same-band", style: { "curve-style": "unbundled-bezier", "control-point-distances": "data(bow)", "control-point-weights": 0.5 } },
    ];
    RELATIONS.forEach(function (rel) {
      var c = color("--rel-" + rel, "#999");
      s.push({ selector: "edge[relation = \"" + rel + "\"]", style: { "line-color": c, "target-arrow-color": c } });
    });
    return s;
  }

  // Layers: each generation one band, ancestors above the root and descendants below, a band
  // wrapping into rows when it is wide. Within a band, nodes sit under the mean position of
  // their neighbours in the band nearer the root (fewer crossings), best known first.
  // How many nodes a row holds before a band wraps: the number that lets the drawing fill the
  // view at the largest zoom (so that labels stay readable), given the view's proportions.
  function rowLength(cy, sizes) {
    var w = cy.width() || 1000, h = cy.height() || 560;
    var widest = Math.max.apply(null, sizes), best = widest, bestZoom = 0;
    for (var r = Math.min(4, widest); r <= widest; r++) {
      var rows = sizes.reduce(function (t, n) { return t + Math.ceil(n / r); }, 0);
      var height = (rows - sizes.length) * ROW_GAP + (sizes.length - 1) * LAYER_GAP + ROW_GAP;
      var zoom = Math.min(w / (r * X_GAP), h / height);
      if (zoom > bestZoom + 1e-9) { bestZoom = zoom; best = r; }
    }
    return best;
  }
  function layered(cy) {
    var bands = {};
    cy.nodes().forEach(function (n) { (bands[n.data("layer")] = bands[n.data("layer")] || []).push(n); });
    var keys = Object.keys(bands).map(Number).sort(function (a, b) { return a - b; });
    var ROW = rowLength(cy, keys.map(function (k) { return bands[k].length; }));
    var x = {};
    var order = keys.filter(function (k) { return k >= 0; }).concat(keys.filter(function (k) { return k < 0; }).reverse());
    order.forEach(function (k) {
      var nearer = k > 0 ? k - 1 : k + 1;
      bands[k].forEach(function (n, i) {
        var xs = [];
        if (k !== 0) {
          n.neighborhood("node").forEach(function (m) { if (m.data("layer") === nearer && x[m.id()] !== undefined) { xs.push(x[m.id()]); } });
        }
        n.scratch("_bc", xs.length ? xs.reduce(function (a, b) { return a + b; }, 0) / xs.length : 1e9 + i);
        n.scratch("_i", i);
      });
      bands[k].sort(function (a, b) { return a.scratch("_bc") - b.scratch("_bc") || a.scratch("_i") - b.scratch("_i"); });
      var width = Math.min(ROW, bands[k].length);
      bands[k].forEach(function (n, i) {
        var inRow = i % ROW, rows = Math.ceil(bands[k].length / ROW);
        var last = Math.floor(i / ROW) === rows - 1 ? bands[k].length - (rows - 1) * ROW : width;
        // Every other row of a wrapped band is shifted half a step: links from the band
        // above then pass between the nodes of the first rows instead of through them.
        var shift = Math.floor(i / ROW) % 2 ? X_GAP / 2 : 0;
        x[n.id()] = (inRow - (last - 1) / 2) * X_GAP + shift;
      });
    });
    var y = {}, cursor = 0;
    keys.forEach(function (k) {
      bands[k].forEach(function (n, i) { y[n.id()] = cursor + Math.floor(i / ROW) * ROW_GAP; });
      cursor += Math.ceil(bands[k].length / ROW) * ROW_GAP + LAYER_GAP;
    });
    cy.layout({ name: "preset", positions: function (n) { return { x: x[n.id()], y: y[n.id()] }; }, fit: true, padding: 24, animate: false }).run();
    cy.edges().forEach(function (e) {
      var s = e.source(), t = e.target();
      if (s.data("layer") !== t.data("layer")) { e.removeClass("same-band"); return; }
      // The control point sits this far from the line's middle, on its upper side (the
      // labels are under the nodes); the arc rises half as much, more for longer links.
      var dx = x[t.id()] - x[s.id()];
      var bow = Math.min(160, 50 + 0.35 * Math.abs(dx));
      e.data("bow", dx >= 0 ? -bow : bow);
      e.addClass("same-band");
    });
  }
  // Rings: the root in the middle, each generation (up or down) one ring out.
  function rings(cy) {
    cy.edges().removeClass("same-band");
    var far = cy.nodes().max(function (n) { return Math.abs(n.data("layer")); }).value || 0;
    cy.layout({ name: "concentric", concentric: function (n) { return far - Math.abs(n.data("layer")); }, levelWidth: function () { return 1; }, minNodeSpacing: 6, padding: 20, animate: false }).run();
  }

  function mount(view) {
    var rootId = view.dataset.root;
    var source = view.dataset.source;       // e.g. "models/<id>/lineage"
    var exportPath = view.dataset.export;   // e.g. "models/<id>/export", or absent
    var form = view.querySelector(".graph-controls");
    var container = view.querySelector(".graph");
    var statusEl = view.querySelector(".graph-status");
    var panel = view.querySelector(".graph-panel");
    var tableBox = view.querySelector(".graph-table");
    var downloads = view.querySelector(".graph-downloads");
    var cy = null, known = {}, last = null, sortKey = null, sortDown = false;

    // The API parameters of the controls: checkbox groups become comma lists; a group with
    // every box ticked (kinds) or empty fields are left out.
    // A checkbox group with no box ticked: its legend, else null. Nothing ticked would mean
    // "nothing", which the API cannot say (an absent parameter means "the default"), so the
    // form refuses it rather than silently drawing everything.
    function emptyGroup() {
      var sets = view.querySelectorAll("fieldset");
      for (var i = 0; i < sets.length; i++) {
        var boxes = sets[i].querySelectorAll("input[type=checkbox]");
        var ticked = sets[i].querySelectorAll("input[type=checkbox]:checked");
        if (boxes.length && !ticked.length) { return sets[i]; }
      }
      return null;
    }
    function params() {
      var out = {};
      var groups = {};
      Array.prototype.forEach.call(form.elements, function (f) {
        if (!f.name || f.dataset.local !== undefined) { return; }
        if (f.type === "checkbox") {
          var g = (groups[f.name] = groups[f.name] || { on: [], all: 0, omitAll: f.dataset.omitAll !== undefined });
          g.all += 1;
          if (f.checked) { g.on.push(f.value); }
        } else if (String(f.value).trim() !== "") {
          out[f.name] = String(f.value).trim();
        }
      });
      Object.keys(groups).forEach(function (name) {
        var g = groups[name];
        if (!(g.omitAll && g.on.length === g.all) && g.on.length) { out[name] = g.on.join(","); }
      });
      return out;
    }

    function nodeData(n, layer) {
      var size = 14 + 5 * Math.log10(1 + (n.downloads || 0));   // 10 M downloads: 49 px
      if (n.id === rootId) { size = Math.max(size, 32); }        // the start stands out
      return { group: "nodes", data: { id: n.id, label: n.id.split("/").pop(), kind: n.kind, stub: n.stub ? 1 : 0, root: n.id === rootId ? 1 : 0, layer: layer, depth: layer, relation: n.relation || "", downloads: n.downloads, descendants: n.descendants, created: n.created_at || "", size: Math.min(size, 54) } };
    }
    function elements(lin, base) {
      var out = [];
      lin.nodes.forEach(function (n) {
        if (!known[n.id]) { known[n.id] = true; out.push(nodeData(n, (base || 0) + n.depth)); }
      });
      lin.edges.forEach(function (e) {
        var id = e.parent + "\u0000" + e.child + "\u0000" + e.relation;
        if (known[e.parent] && known[e.child] && !known[id]) {
          known[id] = true;
          out.push({ group: "edges", data: { id: id, source: e.parent, target: e.child, relation: e.relation } });
        }
      });
      return out;
    }
    function layout() {
      var which = form.elements.layout ? form.elements.layout.value : "layers";
      if (which === "rings") { rings(cy); } else { layered(cy); }
    }
    function status() {
      var text = F.t("graph.status", { nodes: F.num(cy.nodes().length), links: F.num(cy.edges().length) });
      if (last && (last.truncated || last.depth_limited)) { text += " — " + F.t("graph.truncated"); }
      statusEl.textContent = text;
    }
    function showPanel(node) {
      var d = node.data();
      panel.querySelector(".gp-id").textContent = d.id;
      panel.querySelector(".gp-meta").textContent = F.t("graph.meta", { kind: F.t("kind." + d.kind), downloads: F.num(d.downloads), descendants: F.num(d.descendants) });
      panel.querySelector(".gp-open").setAttribute("href", F.page(d.kind, d.id));
      var exp = panel.querySelector(".gp-expand");
      exp.dataset.id = d.id;
      exp.disabled = d.kind !== "model";
      panel.hidden = false;
    }

    // -- the table of what is drawn -------------------------------------------------------
    var COLUMNS = [
      { key: "id", label: "table.id" }, { key: "kind", label: "table.kind" },
      { key: "relation", label: "table.relation" }, { key: "depth", label: "table.depth", num: true },
      { key: "downloads", label: "table.downloads", num: true }, { key: "created", label: "table.created" },
    ];
    function cell(d, key) {
      if (key === "kind") { return F.t("kind." + d.kind); }
      if (key === "relation") { return d.relation ? F.t("rel." + d.relation) : "—"; }
      if (key === "downloads") { return F.num(d.downloads); }
      if (key === "created") { return d.created ? d.created.slice(0, 10) : "—"; }
      if (key === "depth") { return String(d.depth); }
      return d[key];
    }
    function table() {
      if (!tableBox || !cy) { return; }
      var rows = cy.nodes().map(function (n) { return n.data(); });
      if (sortKey) {
        var col = COLUMNS.filter(function (c) { return c.key === sortKey; })[0];
        rows.sort(function (a, b) {
          var x = a[sortKey], y = b[sortKey], r;
          if (col.num) { r = (x === null || x === undefined ? -Infinity : x) - (y === null || y === undefined ? -Infinity : y); }
          else { r = String(x || "").localeCompare(String(y || "")); }
          return sortDown ? -r : r;
        });
      }
      var head = el("tr", {}, COLUMNS.map(function (c) {
        var state = c.key === sortKey ? (sortDown ? "descending" : "ascending") : "none";
        var btn = el("button", { type: "button", class: "sort", "data-key": c.key, text: F.t(c.label) });
        btn.addEventListener("click", function () {
          sortDown = sortKey === c.key ? !sortDown : !!c.num;
          sortKey = c.key;
          table();
        });
        return el("th", { scope: "col", "aria-sort": state }, [btn]);
      }));
      var body = el("tbody", {}, rows.map(function (d) {
        return el("tr", { class: "kind-" + d.kind, "data-id": d.id }, COLUMNS.map(function (c) {
          if (c.key === "id") { return el("td", {}, [el("a", { href: F.page(d.kind, d.id), text: d.id })]); }
          return el("td", { class: c.num ? "num" : null, text: cell(d, c.key) });
        }));
      }));
      tableBox.textContent = "";
      tableBox.appendChild(el("p", { class: "help", text: F.t("table.count", { n: F.num(rows.length) }) }));
      tableBox.appendChild(el("table", { class: "lineage" }, [el("thead", {}, [head]), body]));
    }

    // -- downloads --------------------------------------------------------------------------
    function updateDownloads() {
      if (!downloads || !exportPath) { return; }
      var p = params();
      Array.prototype.forEach.call(downloads.querySelectorAll("a[data-format]"), function (a) {
        var q = new URLSearchParams(Object.assign({ format: a.dataset.format, direction: view.dataset.direction || "both" }, p)).toString();
        a.setAttribute("href", F.root + "/api/" + exportPath + "?" + q);
      });
    }
    function save(blob, extension) {
      var a = el("a", { href: URL.createObjectURL(blob), download: (rootId.replace(/[^\w.-]+/g, "_") || "graph") + "." + extension, hidden: "" });
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }
    function png() {
      if (!cy) { return; }
      save(cy.png({ output: "blob", full: true, scale: 2, bg: "#ffffff", maxWidth: 8000, maxHeight: 8000 }), "png");
    }
    function svg() {
      if (!cy || !F.graphSvg) { return; }
      save(new Blob([F.graphSvg(cy, rootId)], { type: "image/svg+xml" }), "svg");
    }

    function expand(id) {
      var limit = Math.min(EXPAND, Number(form.elements.limit.value) || EXPAND);
      var base = cy.getElementById(id).data("layer") || 0;
      var p = params();
      p.max_depth = 1;
      p.limit = limit;
      F.api("models/" + F.encId(id) + "/lineage", p).then(function (lin) {
        cy.add(elements(lin, base));
        layout();
        status();
        table();
      }).catch(function () { statusEl.textContent = F.t("graph.error"); });
    }

    function draw() {
      if (typeof window.cytoscape !== "function") { return; }
      var empty = emptyGroup();
      Array.prototype.forEach.call(view.querySelectorAll("fieldset"), function (f) { f.removeAttribute("aria-invalid"); });
      if (empty) {
        empty.setAttribute("aria-invalid", "true");
        statusEl.textContent = F.t("expert.none_ticked", { group: empty.querySelector("legend").textContent });
        statusEl.classList.add("error");
        return;
      }
      statusEl.classList.remove("error");
      // Cytoscape adds a <style> element unless this id exists; the CSP would refuse it, and
      // app.css already gives the container its position.
      if (!document.getElementById("__________cytoscape_stylesheet")) {
        document.head.appendChild(el("meta", { id: "__________cytoscape_stylesheet", name: "cytoscape-style", content: "app.css" }));
      }
      statusEl.textContent = F.t("graph.loading");
      container.dataset.ready = "false";
      updateDownloads();
      F.api(source, params()).then(function (lin) {
        known = {};
        last = lin;
        if (cy) { cy.destroy(); }
        panel.hidden = true;
        cy = window.cytoscape({ container: container, elements: elements(lin, 0), style: styles(), wheelSensitivity: 0.3, minZoom: 0.02, maxZoom: 4 });
        window.filiationGraph = cy;
        layout();
        status();
        table();
        cy.on("tap", "node", function (ev) { showPanel(ev.target); });
        cy.on("dbltap", "node", function (ev) { window.location.href = F.page(ev.target.data("kind"), ev.target.id()); });
        container.dataset.ready = "true";
      }).catch(function () { statusEl.textContent = F.t("graph.error"); });
    }

    // The settings of a drawing the user asked for are kept in the page's URL (and in the
    // language switch's link), so that a filtered graph can be shared or read in French.
    var EXPERT = ["kind", "relation", "min_downloads", "since", "until"];
    function fieldNames() {
      var names = {};
      Array.prototype.forEach.call(form.elements, function (f) { if (f.name) { names[f.name] = true; } });
      return Object.keys(names);
    }
    function remember() {
      var q = new URLSearchParams(window.location.search);
      fieldNames().forEach(function (n) { q.delete(n); });
      var p = params();
      Object.keys(p).forEach(function (k) { q.set(k, p[k]); });
      if (form.elements.layout) { q.set("layout", form.elements.layout.value); }
      var search = q.toString() ? "?" + q.toString() : "";
      window.history.replaceState(null, "", window.location.pathname + search);
      Array.prototype.forEach.call(document.querySelectorAll("a.lang-switch"), function (a) {
        var url = new URL(a.href);
        url.search = search;
        a.href = url.toString();
      });
    }
    function restore() {
      var q = new URLSearchParams(window.location.search);
      var found = false, expert = false;
      fieldNames().forEach(function (name) {
        if (!q.has(name)) { return; }
        found = true;
        if (EXPERT.indexOf(name) >= 0) { expert = true; }
        var value = q.get(name);
        var wanted = value.split(",");
        Array.prototype.forEach.call(form.elements, function (f) {
          if (f.name !== name || f.type === "hidden" || f.disabled) { return; }
          if (f.type === "checkbox") { f.checked = wanted.indexOf(f.value) >= 0; }
          else { f.value = value; }
        });
      });
      var details = view.querySelector("details.expert");
      if (expert && details) { details.open = true; }
      return found;
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!emptyGroup()) { remember(); }
      draw();
    });
    // Downloads follow the last drawing (updated by draw), not fields changed since.
    form.addEventListener("change", function (ev) {
      if (ev.target.name === "layout" && cy) { layout(); }
    });
    view.querySelector(".graph-fit").addEventListener("click", function () { if (cy) { cy.fit(undefined, 20); } });
    panel.querySelector(".gp-expand").addEventListener("click", function (ev) { if (cy) { expand(ev.target.dataset.id); } });
    var pngButton = view.querySelector(".download-png");
    if (pngButton) { pngButton.addEventListener("click", png); }
    var svgButton = view.querySelector(".download-svg");
    if (svgButton) { svgButton.addEventListener("click", svg); }
    var restored = restore();
    updateDownloads();
    return { draw: draw, drawn: function () { return cy !== null; }, restored: restored };
  }

  F.graphs = {};
  F.ready().then(function () {
    Array.prototype.forEach.call(document.querySelectorAll(".graph-view"), function (view) {
      var g = mount(view);
      F.graphs[view.id] = g;
      // A graph in a hidden tab is drawn when the tab opens (model.js); others right away.
      if (view.dataset.lazy === undefined) { g.draw(); }
    });
  });
})();
