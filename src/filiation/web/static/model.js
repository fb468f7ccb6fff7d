// The model page's two views of the genealogy, drawn from the JSON API a page at a time:
// the tree (ancestors above, descendants below, grouped by relation) and the graph
// (Cytoscape.js). Nothing asks the server for more nodes than the user opened.
"use strict";

(function () {
  var F = window.filiation;
  var main = document.getElementById("main");
  if (!main || main.dataset.page !== "model") { return; }
  var rootId = main.dataset.id;
  var LINEAGE = ["finetune", "quantized", "adapter", "merge", "unspecified"];
  var PAGE = 25;         // children per page in the tree
  var OPEN_MAX = 12;     // groups this small start open
  var ANCESTORS = 60;    // nearest ancestors shown in the tree
  var EXPAND = 40;       // neighbours added per expansion in the graph
  var el = F.el;

  function dot(kind, stub) { return el("span", { class: "dot kind-" + kind + (stub ? " stub" : ""), "aria-hidden": "true" }); }
  function relBadge(rel) { return el("span", { class: "badge rel rel-" + rel, text: F.t("rel." + rel) }); }
  function meta(n) {
    return el("span", { class: "meta", text: F.t("node.downloads_short", { n: F.num(n.downloads) }) + " · " + F.t("node.descendants_short", { n: F.num(n.descendants) }) });
  }
  function link(n) { return el("a", { href: F.page(n.kind, n.id), text: n.id }); }
  function failed(where) { where.appendChild(el("p", { class: "error", text: F.t("tree.error") })); }

  // -- tree ----------------------------------------------------------------------------------
  function childRow(n) {
    var li = el("li", { class: "node kind-" + n.kind, "data-id": n.id }, [dot(n.kind, n.stub), link(n), n.stub ? el("span", { class: "badge stub", text: F.t("node.stub") }) : null, meta(n)]);
    if (n.descendants > 0 && n.kind === "model") {
      var box = el("div", { class: "subtree" });
      var btn = el("button", { type: "button", class: "toggle", "aria-expanded": "false", title: F.t("tree.expand"), "aria-label": F.t("tree.expand") + " — " + n.id, text: "▸" });
      var loaded = false;
      btn.addEventListener("click", function () {
        var open = btn.getAttribute("aria-expanded") !== "true";
        btn.setAttribute("aria-expanded", open ? "true" : "false");
        btn.textContent = open ? "▾" : "▸";
        btn.title = F.t(open ? "tree.collapse" : "tree.expand");
        box.hidden = !open;
        if (open && !loaded) {
          loaded = true;
          F.api("models/" + F.encId(n.id), { limit: 0 }).then(function (d) {
            groups(d.id, d.children_by_relation, box);
          }).catch(function () { failed(box); });
        }
      });
      li.insertBefore(btn, li.firstChild);
      li.appendChild(box);
    }
    return li;
  }

  function group(id, rel, total) {
    var details = el("details", { class: "group", "data-relation": rel });
    var summary = el("summary", {}, [el("span", { class: "swatch rel-" + rel, "aria-hidden": "true" }), el("span", { class: "label", text: F.t("relp." + rel) }), el("span", { class: "count", text: F.num(total) })]);
    var list = el("ul", { class: "nodes" });
    var more = el("button", { type: "button", class: "more", "data-relation": rel, hidden: "" });
    details.appendChild(summary);
    details.appendChild(list);
    details.appendChild(more);
    var loaded = 0, busy = false, started = false;
    function page() {
      if (busy) { return; }
      busy = true;
      more.disabled = true;
      F.api("models/" + F.encId(id) + "/children", { relation: rel, offset: loaded, limit: PAGE }).then(function (p) {
        p.items.forEach(function (n) { list.appendChild(childRow(n)); });
        loaded += p.items.length;
        var left = Math.max(0, total - loaded);
        if (p.has_more && left > 0) {
          more.hidden = false;
          more.textContent = F.t("tree.more", { n: F.num(left), relation: F.t("relp." + rel) });
          more.title = F.t("tree.show_more", { n: F.num(Math.min(PAGE, left)) });
        } else {
          more.hidden = true;
        }
      }).catch(function () { failed(details); }).then(function () { busy = false; more.disabled = false; });
    }
    more.addEventListener("click", page);
    details.addEventListener("toggle", function () {
      if (details.open && !started) { started = true; page(); }
    });
    if (total <= OPEN_MAX) { details.open = true; } else {
      // A large group stays closed and summarised until asked for.
      summary.appendChild(el("span", { class: "summary-more", text: F.t("tree.more", { n: F.num(total), relation: F.t("relp." + rel) }) }));
    }
    return details;
  }

  function groups(id, counts, where) {
    var any = false;
    LINEAGE.forEach(function (rel) {
      var n = (counts || {})[rel] || 0;
      if (n > 0) { any = true; where.appendChild(group(id, rel, n)); }
    });
    if (!any) { where.appendChild(el("p", { class: "empty", text: F.t("tree.no_descendants") })); }
  }

  function ancestors(where) {
    F.api("models/" + F.encId(rootId) + "/ancestors", { limit: ANCESTORS }).then(function (lin) {
      var byDepth = {};
      lin.nodes.slice(1).forEach(function (n) { (byDepth[n.depth] = byDepth[n.depth] || []).push(n); });
      var depths = Object.keys(byDepth).map(Number).sort(function (a, b) { return b - a; });
      if (!depths.length) { where.appendChild(el("p", { class: "empty", text: F.t("tree.no_ancestors") })); return; }
      depths.forEach(function (d) {
        var gen = el("div", { class: "generation", "data-depth": String(-d) }, [el("h4", { text: F.t("tree.generation", { n: "−" + d }) })]);
        var byRel = {};
        byDepth[d].forEach(function (n) { (byRel[n.relation] = byRel[n.relation] || []).push(n); });
        LINEAGE.forEach(function (rel) {
          if (!byRel[rel]) { return; }
          var list = el("ul", { class: "nodes" });
          byRel[rel].forEach(function (n) {
            list.appendChild(el("li", { class: "node kind-" + n.kind }, [dot(n.kind, n.stub), link(n), relBadge(rel), n.stub ? el("span", { class: "badge stub", text: F.t("node.stub") }) : null, el("span", { class: "meta", text: F.t("tree.via", { id: n.via }) })]));
          });
          gen.appendChild(list);
        });
        where.appendChild(gen);
      });
      if (lin.truncated) { where.appendChild(el("p", { class: "help", text: F.t("tree.ancestors_truncated", { n: F.num(ANCESTORS) }) })); }
    }).catch(function () { failed(where); });
  }

  function tree() {
    var box = document.getElementById("tree");
    if (!box) { return; }
    box.textContent = "";
    var up = el("section", { class: "ancestors", "aria-label": F.t("tree.ancestors") }, [el("h3", { text: F.t("tree.ancestors") })]);
    var root = el("div", { class: "tree-root" }, [dot("model", false), el("strong", { text: rootId })]);
    var down = el("section", { class: "descendants", id: "tree-descendants", "aria-label": F.t("tree.descendants") }, [el("h3", { text: F.t("tree.descendants") })]);
    box.appendChild(up); box.appendChild(root); box.appendChild(down);
    ancestors(up);
    F.api("models/" + F.encId(rootId), { limit: 0 }).then(function (d) {
      groups(d.id, d.children_by_relation, down);
    }).catch(function () { failed(down); });
  }

  // -- graph ---------------------------------------------------------------------------------
  var cy = null;
  var css = getComputedStyle(document.documentElement);
  function color(name, fallback) { return (css.getPropertyValue(name) || "").trim() || fallback; }

  function nodeData(n, isRoot, base) {
    var size = 16 + 7 * Math.log10(1 + (n.downloads || 0));
    var ring = Math.abs(n.depth || 0) + (base || 0);
    return { group: "nodes", data: { id: n.id, label: n.id.split("/").pop(), kind: n.kind, stub: n.stub ? 1 : 0, root: isRoot ? 1 : 0, ring: ring, downloads: n.downloads, descendants: n.descendants, size: Math.min(size, 70) } };
  }
  function edgeData(e) {
    return { group: "edges", data: { id: e.parent + "\u0000" + e.child + "\u0000" + e.relation, source: e.parent, target: e.child, relation: e.relation } };
  }
  function elements(lin, known, base) {
    var out = [];
    lin.nodes.forEach(function (n) {
      if (!known[n.id]) { known[n.id] = true; out.push(nodeData(n, n.id === rootId, base)); }
    });
    lin.edges.forEach(function (e) {
      var d = edgeData(e);
      if (known[e.parent] && known[e.child] && !known[d.data.id]) { known[d.data.id] = true; out.push(d); }
    });
    return out;
  }
  function styles() {
    var s = [
      { selector: "node", style: { "background-color": color("--kind-model", "#2f6fdb"), width: "data(size)", height: "data(size)", label: "data(label)", "font-size": 9, color: color("--ink", "#222"), "text-valign": "bottom", "text-margin-y": 3, "min-zoomed-font-size": 7, "border-width": 1, "border-color": "#fff" } },
      { selector: "node[kind = \"dataset\"]", style: { "background-color": color("--kind-dataset", "#2e9e5b"), shape: "round-rectangle" } },
      { selector: "node[kind = \"author\"]", style: { "background-color": color("--kind-author", "#d9822b"), shape: "diamond" } },
      { selector: "node[stub = 1]", style: { "background-color": color("--stub", "#aaa"), "border-style": "dashed", "border-color": "#666", "border-width": 2 } },
      { selector: "node[root = 1]", style: { "border-width": 4, "border-color": color("--ink", "#222"), "font-weight": "bold", "font-size": 11 } },
      { selector: "node:selected", style: { "overlay-color": color("--accent", "#b03060"), "overlay-opacity": 0.25 } },
      { selector: "edge", style: { width: 1.6, "curve-style": "bezier", "target-arrow-shape": "triangle", "arrow-scale": 0.8, "line-color": "#999", "target-arrow-color": "#999" } },
    ];
    LINEAGE.concat(["trained_on"]).forEach(function (rel) {
      var c = color("--rel-" + rel, "#999");
      s.push({ selector: "edge[relation = \"" + rel + "\"]", style: { "line-color": c, "target-arrow-color": c } });
    });
    return s;
  }
  // Concentric rings: the model in the middle, each generation (up or down) one ring out.
  function layout() {
    var far = cy.nodes().max(function (n) { return n.data("ring"); }).value || 0;
    cy.layout({ name: "concentric", concentric: function (n) { return far - n.data("ring"); }, levelWidth: function () { return 1; }, minNodeSpacing: 6, padding: 20, animate: false }).run();
  }
  function status(lin) {
    var text = F.t("graph.status", { nodes: F.num(cy.nodes().length), links: F.num(cy.edges().length) });
    if (lin && (lin.truncated || lin.depth_limited)) { text += " — " + F.t("graph.truncated"); }
    document.getElementById("graph-status").textContent = text;
  }
  function panel(node) {
    var box = document.getElementById("graph-panel");
    var d = node.data();
    document.getElementById("gp-id").textContent = d.id;
    document.getElementById("gp-meta").textContent = F.t("graph.meta", { kind: F.t("kind." + d.kind), downloads: F.num(d.downloads), descendants: F.num(d.descendants) });
    document.getElementById("gp-open").setAttribute("href", F.page(d.kind, d.id));
    var exp = document.getElementById("gp-expand");
    exp.dataset.id = d.id;
    exp.disabled = d.kind !== "model";
    box.hidden = false;
  }
  var known = {};
  function expand(id) {
    var form = document.getElementById("graph-controls");
    var limit = Math.min(EXPAND, Number(form.elements.limit.value));
    var base = cy.getElementById(id).data("ring") || 0;
    F.api("models/" + F.encId(id) + "/lineage", { max_depth: 1, limit: limit }).then(function (lin) {
      cy.add(elements(lin, known, base));
      layout();
      status(lin);
    }).catch(function () { document.getElementById("graph-status").textContent = F.t("graph.error"); });
  }
  function draw() {
    var form = document.getElementById("graph-controls");
    var container = document.getElementById("graph");
    if (!form || !container || typeof window.cytoscape !== "function") { return; }
    // Cytoscape adds a <style> element unless this id exists; the CSP would refuse it, and
    // app.css already gives the container its position.
    if (!document.getElementById("__________cytoscape_stylesheet")) {
      document.head.appendChild(el("meta", { id: "__________cytoscape_stylesheet", name: "cytoscape-style", content: "app.css" }));
    }
    var params = { max_depth: form.elements.max_depth.value, limit: form.elements.limit.value };
    document.getElementById("graph-status").textContent = F.t("graph.loading");
    F.api("models/" + F.encId(rootId) + "/lineage", params).then(function (lin) {
      known = {};
      var els = elements(lin, known);
      if (cy) { cy.destroy(); }
      cy = window.cytoscape({ container: container, elements: els, style: styles(), wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 4 });
      window.filiationGraph = cy;
      layout();
      status(lin);
      cy.on("tap", "node", function (ev) { panel(ev.target); });
      cy.on("dbltap", "node", function (ev) { window.location.href = F.page(ev.target.data("kind"), ev.target.id()); });
      container.dataset.ready = "true";
    }).catch(function () { document.getElementById("graph-status").textContent = F.t("graph.error"); });
  }

  function setupGraph() {
    var form = document.getElementById("graph-controls");
    if (!form) { return; }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); draw(); });
    document.getElementById("graph-fit").addEventListener("click", function () { if (cy) { cy.fit(undefined, 20); } });
    document.getElementById("gp-expand").addEventListener("click", function (ev) { if (cy) { expand(ev.target.dataset.id); } });
  }

  // -- tabs ----------------------------------------------------------------------------------
  function tabs() {
    var buttons = Array.prototype.slice.call(document.querySelectorAll(".tabs [role=tab]"));
    buttons.forEach(function (b) {
      b.addEventListener("click", function () {
        buttons.forEach(function (o) {
          var on = o === b;
          o.setAttribute("aria-selected", on ? "true" : "false");
          document.getElementById(o.getAttribute("aria-controls")).hidden = !on;
        });
        if (b.id === "tab-graph" && !cy) { draw(); }
      });
    });
  }

  F.ready().then(function () { tabs(); setupGraph(); tree(); });
})();
