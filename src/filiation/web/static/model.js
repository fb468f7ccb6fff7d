// The model page's two views of the genealogy, drawn from the JSON API a page at a time:
// the tree (ancestors above, descendants below, grouped by relation) and the graph
// (static/graph/main.js, drawn when its tab opens). Nothing asks the server for more nodes than
// the user opened.
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
  var el = F.el;

  function dot(kind, stub) { return el("span", { class: "dot kind-" + kind + (stub ? " stub" : ""), "aria-hidden": "true" }); }
  function relBadge(rel) { return el("span", { class: "badge rel rel-" + rel, text: F.t("rel." + rel) }); }
  function meta(n) {
    return el("span", { class: "meta", text: F.t("node.downloads_short", { count: n.downloads }) + " · " + F.t("node.descendants_short", { count: n.descendants }) });
  }
  // Ids break after their separators only (F.breakable), never inside a word.
  function link(n) { return F.breakable(el("a", { href: F.page(n.kind, n.id) }), n.id); }
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

  // -- suspected links ------------------------------------------------------------------------
  // With the toggle on, the model's suspected parents and children (filiation infer: never
  // declared, each with its confidence and evidence) are listed apart from the declared tree.
  function dec2(x) { return new Intl.NumberFormat(F.lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(x); }
  function evidenceList(ev) {
    var dl = el("dl", { class: "evidence-list" });
    Object.keys(ev || {}).forEach(function (k) {
      var v = ev[k];
      dl.appendChild(el("dt", { text: k.replace(/_/g, " ") }));
      dl.appendChild(el("dd", { text: Array.isArray(v) ? v.join(", ") : String(v) }));
    });
    return dl;
  }
  function suspectRow(n, edge) {
    var label = F.t("suspects.label", { c: dec2(n.confidence) });
    var ev = (edge && edge.evidence) || {};
    var title = Object.keys(ev).map(function (k) { return k.replace(/_/g, " ") + ": " + ev[k]; }).join("\n");
    var details = el("details", { class: "evidence" }, [el("summary", { text: F.t("suspects.evidence") }), evidenceList(ev)]);
    return el("li", { class: "node suspected kind-" + n.kind, "data-id": n.id }, [
      dot(n.kind, n.stub), link(n), relBadge(n.relation),
      el("span", { class: "badge suspected", text: label, title: title }), meta(n), details]);
  }
  function suspects() {
    var form = document.getElementById("tree-suspects");
    var box = document.getElementById("tree-suspects-list");
    if (!form || !box) { return; }
    function load() {
      box.textContent = "";
      if (!form.elements.include_suspected.checked) { box.hidden = true; return; }
      var min = form.elements.min_confidence.value || "0.5";
      box.hidden = false;
      F.api("models/" + F.encId(rootId) + "/lineage", { include_suspected: "true", min_confidence: min, max_depth: 1 }).then(function (lin) {
        var edges = {};
        lin.edges.forEach(function (e) { if (e.suspected) { edges[e.parent + "\u0000" + e.child] = e; } });
        [["up", -1, "suspects.parents"], ["down", 1, "suspects.children"]].forEach(function (w) {
          var found = lin.nodes.filter(function (n) { return n.suspected && n.depth === w[1]; });
          box.appendChild(el("h4", { text: F.t(w[2], { n: F.num(found.length) }) }));
          if (!found.length) { box.appendChild(el("p", { class: "empty", text: F.t("suspects.none", { c: dec2(Number(min)) }) })); return; }
          var list = el("ul", { class: "nodes suspects-list", "data-direction": w[0] });
          found.forEach(function (n) {
            var key = w[1] < 0 ? n.id + "\u0000" + rootId : rootId + "\u0000" + n.id;
            list.appendChild(suspectRow(n, edges[key]));
          });
          box.appendChild(list);
        });
      }).catch(function () { failed(box); });
    }
    form.addEventListener("change", load);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
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
        var graph = F.graphs && F.graphs["graph-view"];
        if (b.id === "tab-graph" && graph && !graph.drawn()) { graph.draw(); }
      });
    });
  }

  F.ready().then(function () {
    tabs();
    tree();
    suspects();
  });
})();
