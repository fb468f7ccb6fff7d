// The layered layout: ELK's "layered" algorithm (crossing minimisation, node placement),
// with each generation in its own layer, ancestors above the start,
// descendants below. A generation is one row, however wide: never wrapped into rows that
// would look like further generations (the server keeps a generation to what fits). Rows are
// centred (ELK's SIMPLE node placement), so the drawing is as wide as its widest row, not as
// the sum of side-by-side branches.
const SPACING = { node: 28, layer: 56 };

export async function layered(cy) {
  const nodes = cy.nodes();
  const layers = [...new Set(nodes.map((n) => n.data("layer")))].sort((a, b) => a - b);
  const graph = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.layered.layering.strategy": "NETWORK_SIMPLEX",
      "elk.spacing.nodeNode": String(SPACING.node),
      "elk.layered.spacing.nodeNodeBetweenLayers": String(SPACING.layer),
      "elk.layered.spacing.edgeNodeBetweenLayers": "14",
      "elk.layered.crossingMinimization.strategy": "LAYER_SWEEP",
      "elk.layered.nodePlacement.strategy": "SIMPLE",
      "elk.edgeRouting": "POLYLINE",
    },
    children: nodes.map((n) => ({
      id: n.id(), width: n.data("w"), height: n.data("h"),
    })),
    // Links between consecutive generations only: every item hangs from one in the row
    // above (the server draws nothing else), so each generation is exactly one ELK layer.
    // Longer links and links inside a row (merges) are drawn but do not shape the layout.
    edges: cy.edges().filter((e) => Math.abs(e.source().data("layer") - e.target().data("layer")) === 1).map((e) => {
      const up = e.source().data("layer") > e.target().data("layer");
      return { id: e.id(), sources: [up ? e.target().id() : e.source().id()], targets: [up ? e.source().id() : e.target().id()] };
    }),
  };
  const out = await new window.ELK().layout(graph);
  // One row per generation: the row's top is the bottom of the previous one plus the gap.
  const height = new Map();
  nodes.forEach((n) => { const l = n.data("layer"); height.set(l, Math.max(height.get(l) || 0, n.data("h"))); });
  const top = new Map();
  let y = 0;
  for (const l of layers) { top.set(l, y); y += height.get(l) + SPACING.layer; }
  const pos = {};
  for (const c of out.children) {
    const l = cy.getElementById(c.id).data("layer");
    pos[c.id] = { x: c.x + c.width / 2, y: top.get(l) + height.get(l) / 2 };
  }
  cy.nodes().positions((n) => pos[n.id()]);
  cy.edges().forEach((e) => {
    const s = e.source(), t = e.target();
    e.removeClass("same-layer");
    if (s.data("layer") !== t.data("layer")) { return; }
    const dx = t.position("x") - s.position("x");
    const bow = Math.min(160, 40 + 0.3 * Math.abs(dx)) + s.data("h") / 2;
    e.data("bow", dx >= 0 ? -bow : bow);
    e.addClass("same-layer");
  });
}
