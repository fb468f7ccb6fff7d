// What Cytoscape draws: one labelled box per item (a model, a data set, an author, or a group
// standing for many), links coloured by relation. The colours come from the page (the view's
// data-vocabulary: filiation.domain.RELATION_COLOURS), never from a copy in this file.
import { FONT, FAMILY, LINE, linesOf, measure } from "./labels.js";

export function vocabulary(view) {
  // An attribute, not an inline script: the page keeps to files only (CSP script-src 'self').
  const vocab = view.dataset.vocabulary ? JSON.parse(view.dataset.vocabulary) : { relations: {} };
  // The swatches of the legend and badges follow the same colours.
  for (const [rel, colour] of Object.entries(vocab.relations)) {
    document.documentElement.style.setProperty("--rel-" + rel, colour);
  }
  return vocab;
}

function color(name, fallback) {
  return (getComputedStyle(document.documentElement).getPropertyValue(name) || "").trim() || fallback;
}

export function styles() {
  return [
    { selector: "node", style: {
      shape: "round-rectangle", width: "data(w)", height: "data(h)", label: "data(label)",
      "font-size": FONT, "font-family": FAMILY, "line-height": LINE / FONT, color: color("--ink", "#222"),
      "text-valign": "center", "text-halign": "center", "text-wrap": "wrap", "text-max-width": 2000,
      "min-zoomed-font-size": 0, "background-color": "#ffffff", "border-width": 2,
      "border-color": color("--kind-model", "#2f6fdb") } },
    { selector: "node[kind = \"dataset\"]", style: { "border-color": color("--kind-dataset", "#2e9e5b"), "background-color": "#f1faf4" } },
    { selector: "node[kind = \"author\"]", style: { "border-color": color("--kind-author", "#d9822b"), "background-color": "#fdf5ec" } },
    { selector: "node[stub = 1]", style: { "border-style": "dashed", "border-color": color("--stub", "#8a8f98") } },
    { selector: "node[kind = \"group\"]", style: { "border-style": "dashed", "border-width": 2, "background-color": "#f4f5f8", "border-color": "data(colour)", color: "#333" } },
    { selector: "node[root = 1]", style: { "border-width": 4, "border-color": color("--ink", "#222"), "font-weight": "bold" } },
    { selector: "node:selected", style: { "overlay-color": color("--accent", "#b03060"), "overlay-opacity": 0.2, "overlay-padding": 4 } },
    { selector: "edge", style: { width: 1.8, "curve-style": "bezier", "target-arrow-shape": "triangle", "arrow-scale": 0.9, "line-color": "data(colour)", "target-arrow-color": "data(colour)", opacity: 0.85 } },
    // Suspected links and the items only they reach: dashed, grey, labelled with their confidence.
    { selector: "node[suspected = 1]", style: { "border-style": "dashed", "border-color": color("--muted", "#6b7280") } },
    { selector: "edge[suspected = 1]", style: { "line-style": "dashed", "line-dash-pattern": [6, 4], "line-color": "#6b7280",
      "target-arrow-color": "#6b7280", label: "data(label)", "font-size": 11, "font-family": FAMILY, color: "#444",
      "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 2, "min-zoomed-font-size": 0 } },
    { selector: "edge.same-layer", style: { "curve-style": "unbundled-bezier", "control-point-distances": "data(bow)", "control-point-weights": 0.5 } },
  ];
}

// "suspected 0.87" / "supposé 0,87": a suspected link's confidence, two decimals in the page's language.
export function suspectedLabel(confidence, t) {
  const dec = new Intl.NumberFormat(document.body.dataset.lang || "en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return t("suspects.label", { c: dec.format(confidence) });
}

// The items of the server's view as Cytoscape elements, each with its label's box.
export function elements(view, vocab, t, num) {
  const out = [];
  const ids = new Set();
  for (const item of view.nodes) {
    const lines = linesOf(item, t, num);
    const box = measure(lines, !!item.root);
    ids.add(item.id);
    out.push({ group: "nodes", data: {
      id: item.id, label: lines.join("\n"), w: box.w, h: box.h, kind: item.kind,
      layer: item.layer, root: item.root ? 1 : 0, stub: item.stub ? 1 : 0, more: item.more ? 1 : 0,
      relation: item.relation || "", members: item.members || 1, total: item.total || 0,
      anchor: item.anchor || "", next_offset: item.next_offset || 0,
      downloads: item.downloads, descendants: item.descendants, generations: item.generations,
      created: item.created, colour: vocab.relations[item.relation] || "#8a8f98",
      suspected: item.suspected ? 1 : 0, confidence: item.confidence,
      title: item.kind === "group" ? t("graph.group_title", { n: num(item.members), what: t("relp." + item.relation), anchor: item.anchor }) : item.id,
    } });
  }
  for (const e of view.edges) {
    if (!ids.has(e.parent) || !ids.has(e.child)) { continue; }
    out.push({ group: "edges", data: {
      id: e.parent + "\u0000" + e.child + "\u0000" + e.relation, source: e.parent, target: e.child,
      relation: e.relation, colour: vocab.relations[e.relation] || "#999",
      suspected: e.suspected ? 1 : 0, confidence: e.confidence, evidence: e.evidence || null,
      label: e.suspected ? suspectedLabel(e.confidence, t) : "",
    } });
  }
  return out;
}
