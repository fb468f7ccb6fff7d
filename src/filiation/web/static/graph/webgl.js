// Large drawings in WebGL: sigma.js (v3) over a graphology graph, for drawings of more than
// LARGE items, where Cytoscape's canvas redraws every label and link on each frame of a pan or
// zoom (5.5 frames/s with 5,000 items, benchmarks/README.md). The items keep the layered
// layout and the data of the Cytoscape model (main.js builds it headless, lays it out with
// ELK, and keeps it for the table, the side panel and the exports); sigma only draws it.
// Items are WebGL points and links thin WebGL lines (generations are rows, parents above: the
// rows give the direction; sigma's arrow and disc programs cost 10 to 50 times more in software
// GL, benchmarks/README.md). Once a label is legible (≥ MIN_PX) it is drawn whole, in its box
// of the layout, which the layout keeps apart from every other (so labels never overlap), and
// sigma's label grid draws only those of items in view. Suspected links (few: at most a
// generation's width) are drawn dashed, grey and labelled with their confidence ("suspected
// 0.87") on sigma's 2D layer under the items, WebGL lines having no dashes. With software GL (no
// GPU: SwiftShader, llvmpipe) links and labels are hidden while the view moves, drawn again
// when it stops: that keeps a pan or zoom of thousands of items smooth.
import { FONT, FAMILY, LINE, MIN_PX } from "./labels.js";

export const LARGE = 300;        // items beyond which a drawing is drawn in WebGL

// Whether this browser can draw in WebGL (without a GPU, Chromium falls back to SwiftShader).
export function webglAvailable() {
  if (typeof window.Sigma !== "function" || !window.graphology) { return false; }
  try {
    const c = document.createElement("canvas");
    return !!(c.getContext("webgl2") || c.getContext("webgl"));
  } catch (err) {
    return false;
  }
}

// Whether WebGL runs on the CPU (the renderer's name, when the browser tells it).
function softwareGL() {
  try {
    const gl = document.createElement("canvas").getContext("webgl");
    const info = gl && gl.getExtension("WEBGL_debug_renderer_info");
    const name = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
    return /swiftshader|llvmpipe|software/i.test(name);
  } catch (err) {
    return false;
  }
}

// Page pixels per layout unit at the camera's current zoom.
function scaleOf(renderer) {
  const a = renderer.graphToViewport({ x: 0, y: 0 }), b = renderer.graphToViewport({ x: 100, y: 0 });
  return Math.hypot(b.x - a.x, b.y - a.y) / 100;
}

// The label in its box, as the Cytoscape drawing shows it: border by kind, lines centred.
function box(ctx, d, s) {
  const w = d.w * s, h = d.h * s, x = d.x - w / 2, y = d.y - h / 2;
  ctx.beginPath();
  if (ctx.roundRect) { ctx.roundRect(x, y, w, h, 6 * s); } else { ctx.rect(x, y, w, h); }
  ctx.fillStyle = d.fill;
  ctx.fill();
  ctx.lineWidth = (d.root ? 4 : 2) * s;
  ctx.strokeStyle = d.color;
  if (d.dashed) { ctx.setLineDash([5 * s, 3 * s]); }
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = d.ink;
  ctx.font = (d.root ? "bold " : "") + FONT * s + "px " + FAMILY;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const lines = String(d.label).split("\n");
  const first = d.y - ((lines.length - 1) * LINE * s) / 2;
  lines.forEach((line, i) => ctx.fillText(line, d.x, first + i * LINE * s));
}

// `cy` is the laid-out model; `look(n)` gives an item's colours ({color, fill, ink, dashed}).
// `more`: sigma settings that override these (benchmarks/browser.py compares some).
export function sigmaView(container, cy, look, more = {}) {
  const graph = new window.graphology.MultiDirectedGraph();
  cy.nodes().forEach((n) => {
    const p = n.position();
    // sigma's y axis points up, the layout's down.
    graph.addNode(n.id(), Object.assign({ type: "point", x: p.x, y: -p.y, size: n.data("h") / 2, label: n.data("label"),
      w: n.data("w"), h: n.data("h"), root: !!n.data("root") }, look(n)));
  });
  const dashed = [];
  cy.edges().forEach((e) => {
    const suspected = !!e.data("suspected");
    if (suspected) { dashed.push({ source: e.data("source"), target: e.data("target"), label: e.data("label") }); }
    graph.addDirectedEdgeWithKey(e.id(), e.data("source"), e.data("target"), {
      color: e.data("colour"), size: 1, type: "line", hidden: suspected });
  });
  let renderer = null;
  // (Nothing in the frame sigma draws while it is being made: sigmaFit redraws it.)
  const drawLabel = (ctx, d) => {
    const s = renderer ? scaleOf(renderer) : 0;
    if (FONT * s >= MIN_PX) { box(ctx, d, s); }
  };
  // Hovered, an item shows its label at a legible size whatever the zoom.
  const drawHover = (ctx, d) => { if (renderer) { box(ctx, d, Math.max(scaleOf(renderer), (MIN_PX + 0.5) / FONT)); } };
  const R = window.Sigma.rendering;
  const slow = softwareGL();
  renderer = new window.Sigma(graph, container, Object.assign({
    nodeProgramClasses: { point: R.NodePointProgram }, edgeProgramClasses: { line: R.EdgeLineProgram },
    hideEdgesOnMove: slow, hideLabelsOnMove: slow,
    itemSizesReference: "positions", zoomToSizeRatioFunction: (r) => r,
    labelRenderedSizeThreshold: 0, labelDensity: 4, labelGridCellSize: 120,
    defaultDrawNodeLabel: drawLabel, defaultDrawNodeHover: drawHover,
    enableEdgeEvents: false, minCameraRatio: 0.02, maxCameraRatio: 4, allowInvalidContainer: true,
    stagePadding: 20,
  }, more));
  // Picking by the layout's boxes, in script: sigma's own picking reads a pixel back from the
  // GPU at every mouse move (gl.readPixels, a pipeline stall), and finds only the item's point;
  // with boxes a label is clickable all over. A scan of the items per move: 5,000 boxes take
  // well under a millisecond. (Without a GPU, Chromium still logs "GPU stall due to
  // ReadPixels": that is its compositor reading any drawn WebGL canvas back, page or not.)
  renderer.getNodeAtPosition = (pos) => {
    const p = renderer.viewportToGraph(pos);
    let found = null;
    graph.forEachNode((id, d) => {
      if (!found && Math.abs(p.x - d.x) <= d.w / 2 && Math.abs(p.y - d.y) <= d.h / 2) { found = id; }
    });
    return found;
  };
  renderer.on("afterRender", () => {
    if (!dashed.length) { return; }
    const ctx = renderer.getCanvases().edgeLabels.getContext("2d");
    const at = (id) => renderer.graphToViewport(graph.getNodeAttributes(id));
    ctx.save();
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = "#6b7280";
    ctx.lineWidth = 1.5;
    ctx.font = "11px " + FAMILY;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const l of dashed) {
      const a = at(l.source), b = at(l.target);
      ctx.beginPath();
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
      ctx.stroke();
      const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2, w = ctx.measureText(l.label).width + 4;
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(mx - w / 2, my - 8, w, 16);
      ctx.fillStyle = "#444";
      ctx.fillText(l.label, mx, my);
    }
    ctx.restore();
  });
  renderer.refresh();
  return {
    renderer, graph,
    scale: () => scaleOf(renderer),
    // Whether sigma's label grid drew an item's label in the last frame.
    labelled: (id) => !!(renderer.displayedNodeLabels && renderer.displayedNodeLabels.has(id)),
    viewport: (p) => renderer.graphToViewport({ x: p.x, y: -p.y }),
    // The camera at `s` pixels a unit with the layout point `p` at the viewport point `at`.
    look: (p, at, s) => {
      const cam = renderer.getCamera();
      const ratio = cam.ratio * scaleOf(renderer) / s;
      // The camera's zoom-in bound follows the drawing: a wide family in a narrow view (a
      // phone) needs a smaller ratio than a fixed bound allows to reach a legible size, and
      // the camera would silently stop short of it. Up to four times the asked scale.
      if (ratio < renderer.getSetting("minCameraRatio")) { renderer.setSetting("minCameraRatio", ratio / 4); }
      // sigma's conversions use the matrix of the last frame unless given the camera's state.
      const o = { cameraState: Object.assign(cam.getState(), { ratio }) };
      // Moved by the difference, in the camera's own (framed) coordinates, of where p is and
      // where it should be.
      const f1 = renderer.viewportToFramedGraph(renderer.graphToViewport({ x: p.x, y: -p.y }, o), o);
      const f2 = renderer.viewportToFramedGraph(at, o);
      cam.setState({ x: o.cameraState.x + f1.x - f2.x, y: o.cameraState.y + f1.y - f2.y, ratio });
      renderer.refresh();
    },
    fit: () => renderer.getCamera().setState({ x: 0.5, y: 0.5, ratio: 1, angle: 0 }),
    kill: () => renderer.kill(),
  };
}
