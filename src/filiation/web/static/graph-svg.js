// The graph as drawn, written as an SVG file (the expert mode's "Image (SVG)" download).
//
// Written here rather than with the cytoscape-svg extension, which is GPL-3.0 and so cannot be
// shipped in filiation's (Apache-2.0) wheel. The graph's styles are few (three node shapes,
// colours, dashed stubs, straight or curved links with an arrow, a label under each node), so
// the file is built from Cytoscape's own rendered geometry: positions, sizes, computed colours,
// link end points and control points. Every text goes in through the DOM (textContent), so an
// id is escaped by the XML serialiser, never parsed.
"use strict";

(function () {
  var F = window.filiation;
  var NS = "http://www.w3.org/2000/svg";
  var CHAR = 0.56;   // mean glyph width of the sans-serif labels, in font sizes

  function node(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined) { e.setAttribute(k, String(attrs[k])); }
    });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function r(v) { return Math.round(v * 10) / 10; }
  function px(v) { return parseFloat(v) || 0; }

  // Cytoscape shortens labels wider than text-max-width with an ellipsis; do the same.
  function shorten(label, maxWidth, fontSize) {
    var room = Math.max(4, Math.floor(maxWidth / (CHAR * fontSize)));
    return label.length > room ? label.slice(0, room - 1) + "\u2026" : label;
  }

  function shape(n) {
    var p = n.position(), w = n.width(), h = n.height();
    var x = p.x, y = p.y;
    var kind = n.data("kind");
    if (kind === "dataset") {
      return node("rect", { x: r(x - w / 2), y: r(y - h / 2), width: r(w), height: r(h), rx: r(Math.min(w, h) / 4) });
    }
    if (kind === "author") {
      return node("polygon", { points: [[x, y - h / 2], [x + w / 2, y], [x, y + h / 2], [x - w / 2, y]].map(function (q) { return r(q[0]) + "," + r(q[1]); }).join(" ") });
    }
    return node("ellipse", { cx: r(x), cy: r(y), rx: r(w / 2), ry: r(h / 2) });
  }

  // A link's path: straight, or the chain of quadratic curves through its control points
  // (Cytoscape's bezier and unbundled-bezier links), with the mid-points between them.
  function linkPath(e) {
    var s = e.sourceEndpoint(), t = e.targetEndpoint();
    var cps = e.controlPoints() || [];
    var d = "M" + r(s.x) + " " + r(s.y);
    if (!cps.length) { return { d: d + " L" + r(t.x) + " " + r(t.y), from: s, to: t }; }
    for (var i = 0; i < cps.length; i++) {
      var end = i === cps.length - 1 ? t : { x: (cps[i].x + cps[i + 1].x) / 2, y: (cps[i].y + cps[i + 1].y) / 2 };
      d += " Q" + r(cps[i].x) + " " + r(cps[i].y) + " " + r(end.x) + " " + r(end.y);
    }
    return { d: d, from: cps[cps.length - 1], to: t };
  }
  function arrow(from, to, size) {
    var dx = to.x - from.x, dy = to.y - from.y, len = Math.sqrt(dx * dx + dy * dy) || 1;
    var ux = dx / len, uy = dy / len;
    var bx = to.x - ux * size, by = to.y - uy * size, half = size * 0.55;
    return [[to.x, to.y], [bx - uy * half, by + ux * half], [bx + uy * half, by - ux * half]]
      .map(function (q) { return r(q[0]) + "," + r(q[1]); }).join(" ");
  }

  // The whole graph (not only the part in view), on a white background.
  F.graphSvg = function (cy, title) {
    var box = cy.elements().boundingBox({ includeLabels: true });
    var pad = 20;
    var svg = node("svg", {
      xmlns: NS, version: "1.1",
      width: r(box.w + 2 * pad), height: r(box.h + 2 * pad),
      viewBox: [r(box.x1 - pad), r(box.y1 - pad), r(box.w + 2 * pad), r(box.h + 2 * pad)].join(" "),
      "font-family": "sans-serif",
    });
    svg.appendChild(node("title", {}, title));
    svg.appendChild(node("rect", { x: r(box.x1 - pad), y: r(box.y1 - pad), width: r(box.w + 2 * pad), height: r(box.h + 2 * pad), fill: "#ffffff" }));
    var links = node("g", { class: "links" });
    cy.edges().forEach(function (e) {
      if (!e.visible()) { return; }
      var color = e.style("line-color"), width = px(e.style("width"));
      var g = node("g", { class: "link", "data-relation": e.data("relation"), opacity: e.style("opacity") });
      g.appendChild(node("title", {}, e.data("source") + " \u2192 " + e.data("target") + " (" + F.t("rel." + e.data("relation")) + ")"));
      var path = linkPath(e);
      g.appendChild(node("path", { d: path.d, fill: "none", stroke: color, "stroke-width": r(width) }));
      var size = Math.max(6, width * 4.5 * px(e.style("arrow-scale")));
      g.appendChild(node("polygon", { points: arrow(path.from, path.to, size), fill: e.style("target-arrow-color") }));
      links.appendChild(g);
    });
    svg.appendChild(links);
    var nodes = node("g", { class: "nodes" });
    cy.nodes().forEach(function (n) {
      if (!n.visible()) { return; }
      var g = node("g", { class: "node", "data-id": n.id(), "data-kind": n.data("kind") });
      g.appendChild(node("title", {}, n.id()));
      var s = shape(n);
      var border = px(n.style("border-width"));
      s.setAttribute("fill", n.style("background-color"));
      if (border > 0) {
        s.setAttribute("stroke", n.style("border-color"));
        s.setAttribute("stroke-width", r(border));
        if (n.style("border-style") === "dashed") { s.setAttribute("stroke-dasharray", "4 3"); }
      }
      g.appendChild(s);
      var size = px(n.style("font-size"));
      var label = shorten(String(n.data("label") || ""), px(n.style("text-max-width")), size);
      var y = n.position().y + n.height() / 2 + px(n.style("text-margin-y")) + size;
      g.appendChild(node("text", {
        x: r(n.position().x), y: r(y), "font-size": r(size), "text-anchor": "middle",
        fill: n.style("color"), "font-weight": n.style("font-weight") === "bold" ? "bold" : null,
      }, label));
      nodes.appendChild(g);
    });
    svg.appendChild(nodes);
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(svg) + "\n";
  };
})();
