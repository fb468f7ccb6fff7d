// Downloads of a drawing: the export route's files (same parameters), a PNG at 2× and an SVG
// built from Cytoscape's rendered geometry (written here rather than with the GPL-3.0
// cytoscape-svg extension, which filiation's Apache-2.0 wheel cannot ship). Labels are the
// drawing's own: whole, on as many lines as drawn. Texts go in through the DOM, so an id is
// escaped by the XML serialiser, never parsed.
import { FONT, FAMILY, LINE } from "./labels.js";

const NS = "http://www.w3.org/2000/svg";

function node(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (v !== null && v !== undefined) { e.setAttribute(k, String(v)); } }
  if (text !== undefined) { e.textContent = text; }
  return e;
}
const r = (v) => Math.round(v * 10) / 10;
const px = (v) => parseFloat(v) || 0;

function linkPath(e) {
  if (e.cy().headless()) {
    // A WebGL drawing (webgl.js): no rendered geometry, straight links from box to box.
    const a = e.source(), b = e.target(), from = a.position(), to = b.position();
    const s = { x: from.x, y: from.y + Math.sign(to.y - from.y) * a.data("h") / 2 };
    const t = { x: to.x, y: to.y - Math.sign(to.y - from.y) * b.data("h") / 2 };
    return { d: "M" + r(s.x) + " " + r(s.y) + " L" + r(t.x) + " " + r(t.y), from: s, to: t };
  }
  const s = e.sourceEndpoint(), t = e.targetEndpoint();
  const cps = e.controlPoints() || [];
  let d = "M" + r(s.x) + " " + r(s.y);
  if (!cps.length) { return { d: d + " L" + r(t.x) + " " + r(t.y), from: s, to: t }; }
  for (let i = 0; i < cps.length; i++) {
    const end = i === cps.length - 1 ? t : { x: (cps[i].x + cps[i + 1].x) / 2, y: (cps[i].y + cps[i + 1].y) / 2 };
    d += " Q" + r(cps[i].x) + " " + r(cps[i].y) + " " + r(end.x) + " " + r(end.y);
  }
  return { d, from: cps[cps.length - 1], to: t };
}
function arrow(from, to, size) {
  const dx = to.x - from.x, dy = to.y - from.y, len = Math.hypot(dx, dy) || 1;
  const ux = dx / len, uy = dy / len, bx = to.x - ux * size, by = to.y - uy * size, half = size * 0.55;
  return [[to.x, to.y], [bx - uy * half, by + ux * half], [bx + uy * half, by - ux * half]].map((q) => r(q[0]) + "," + r(q[1])).join(" ");
}

export function svgText(cy, title, t) {
  const box = cy.elements().boundingBox({ includeLabels: true });
  const pad = 20, x0 = box.x1 - pad, y0 = box.y1 - pad, w = box.w + 2 * pad, h = box.h + 2 * pad;
  const svg = node("svg", { xmlns: NS, version: "1.1", width: r(w), height: r(h), viewBox: [r(x0), r(y0), r(w), r(h)].join(" "), "font-family": FAMILY });
  svg.appendChild(node("title", {}, title));
  svg.appendChild(node("rect", { x: r(x0), y: r(y0), width: r(w), height: r(h), fill: "#ffffff" }));
  const links = node("g", { class: "links" });
  cy.edges().forEach((e) => {
    const g = node("g", { class: "link", "data-relation": e.data("relation") });
    // A group is named by what it stands for ("+46 fine-tunes"), not by its internal id.
    const name = (n) => (n.data("kind") === "group" ? String(n.data("label")) : n.id());
    g.appendChild(node("title", {}, name(e.source()) + " \u2192 " + name(e.target()) + " (" + t("rel." + e.data("relation")) + ")"));
    const path = linkPath(e), colour = e.style("line-color");
    g.appendChild(node("path", { d: path.d, fill: "none", stroke: colour, "stroke-width": r(px(e.style("width"))) }));
    g.appendChild(node("polygon", { points: arrow(path.from, path.to, 8), fill: colour }));
    links.appendChild(g);
  });
  svg.appendChild(links);
  const nodes = node("g", { class: "nodes" });
  cy.nodes().forEach((n) => {
    const p = n.position(), nw = n.width(), nh = n.height();
    const g = node("g", { class: "node", "data-id": n.id(), "data-kind": n.data("kind") });
    g.appendChild(node("title", {}, n.data("title")));
    const rect = node("rect", { x: r(p.x - nw / 2), y: r(p.y - nh / 2), width: r(nw), height: r(nh), rx: 6,
      fill: n.style("background-color"), stroke: n.style("border-color"), "stroke-width": r(px(n.style("border-width"))) });
    if (n.style("border-style") === "dashed") { rect.setAttribute("stroke-dasharray", "5 3"); }
    g.appendChild(rect);
    const lines = String(n.data("label")).split("\n");
    const first = p.y - ((lines.length - 1) * LINE) / 2 + FONT * 0.35;
    lines.forEach((line, i) => {
      g.appendChild(node("text", { x: r(p.x), y: r(first + i * LINE), "font-size": FONT, "text-anchor": "middle",
        fill: n.style("color"), "font-weight": n.data("root") ? "bold" : null }, line));
    });
    nodes.appendChild(g);
  });
  svg.appendChild(nodes);
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(svg) + "\n";
}

export function save(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// The PNG at 2× (at most 16,000 px a side), drawn by Cytoscape: for a WebGL drawing (whose
// canvas holds only the view, and whose model is headless) by a Cytoscape drawn off-screen
// from the same model, positions and styles (an image of the SVG would be a blob: URL, which
// the page's Content-Security-Policy refuses).
export function png(cy) {
  const options = { output: "blob", full: true, scale: 2, bg: "#ffffff", maxWidth: 16000, maxHeight: 16000 };
  if (!cy.headless()) { return Promise.resolve(cy.png(options)); }
  const box = document.createElement("div");
  box.style.cssText = "position:absolute;left:-10000px;top:0;width:800px;height:600px";
  document.body.appendChild(box);
  const json = cy.json();
  const copy = window.cytoscape({ container: box, elements: json.elements, style: json.style, layout: { name: "preset" } });
  try {
    return Promise.resolve(copy.png(options));
  } finally {
    copy.destroy();
    box.remove();
  }
}
