// The graph of a family (model, data set and author pages; templates/_graph.html). The server
// plans what to draw (/api/graph/…: a few dozen items, the rest in group nodes); this module
// lays it out in layers (layout.js), draws it with Cytoscape (render.js) or, beyond LARGE
// items, in WebGL with sigma.js (webgl.js, the Cytoscape model then headless), and wires the
// controls (controls.js), the overview (overview.js), the table and the downloads (exports.js).
// What was drawn is exposed as window.filiationGraph.state() for tests and tools.
import { FONT, MIN_PX } from "./labels.js";
import { layered } from "./layout.js";
import { elements, styles, suspectedLabel, vocabulary } from "./render.js";
import { depthOptions, emptyGroup, params, remember, restore, status } from "./controls.js";
import { png, save, svgText } from "./exports.js";
import { overview } from "./overview.js";
import { table } from "./table.js";
import { LARGE, sigmaView, webglAvailable } from "./webgl.js";

const F = window.filiation;
const ITEM = 150;               // a first guess of a label's box and spacing, px at zoom 1
const READABLE = (MIN_PX + 0.5) / FONT;   // the smallest zoom at which labels stay legible
const TOP_ZOOM = 1.2;

function mount(view) {
  const rootId = view.dataset.root;
  const source = view.dataset.graph;
  const exportPath = view.dataset.export;
  const form = view.querySelector(".graph-controls");
  const container = view.querySelector(".graph");
  const statusEl = view.querySelector(".graph-status");
  const panel = view.querySelector(".graph-panel");
  const downloads = view.querySelector(".graph-downloads");
  const tip = view.querySelector(".graph-tip");
  const vocab = vocabulary(view);
  // The view's least height: it grows with the drawing.
  const baseHeight = 420;
  let cy = null, sg = null, last = null, opened = {}, focus = null, depthsSet = false, draws = 0, timing = null;

  // Items per generation: the user's choice, else a first guess from the page's width,
  // narrowed by draw() until the drawing fits the width at a legible size.
  function chosenWidth() {
    return form.elements.width && form.elements.width.value ? Number(form.elements.width.value) : null;
  }
  function guessWidth() {
    const w = container.clientWidth || 1000;
    return Math.max(3, Math.min(12, Math.floor(w / READABLE / ITEM)));
  }
  function query(width) {
    const p = params(form);
    p.width = width;
    p.budget = Math.max(p.width, Number(p.budget || 40));
    if (focus) { p.relation = focus.relation; p.max_depth = String(Math.abs(focus.generation)); }
    const q = new URLSearchParams(p);
    for (const [key, offset] of Object.entries(opened)) { q.append("open", key + "@" + offset); }
    return q;
  }
  function updateDownloads() {
    if (!downloads || !exportPath) { return; }
    const p = params(form);
    delete p.width; delete p.budget;
    if (p.max_depth === "all") { delete p.max_depth; }
    for (const a of downloads.querySelectorAll("a[data-format]")) {
      const q = new URLSearchParams(Object.assign({ format: a.dataset.format, direction: view.dataset.direction || "both" }, p));
      a.setAttribute("href", F.root + "/api/" + exportPath + "?" + q.toString());
    }
  }

  // A suspected link's evidence (each signal and its value, as `filiation infer` gives them),
  // for an edge or for an item reached through one.
  function suspectedEdge(el) {
    if (el.isEdge()) { return el.data("suspected") ? el : null; }
    const e = el.connectedEdges("[suspected = 1]");
    return el.data("suspected") && e.nonempty() ? e[0] : null;
  }
  function evidenceText(edge) {
    const ev = edge.data("evidence") || {};
    const parts = Object.entries(ev).map(([k, v]) => k.replace(/_/g, " ") + ": " + (Array.isArray(v) ? v.join(", ") : String(v)));
    return [suspectedLabel(edge.data("confidence"), F.t)].concat(parts).join("\n");
  }
  function showEvidence(edge) {
    const box = panel.querySelector(".gp-evidence");
    if (!box) { return; }
    const dl = box.querySelector("dl");
    dl.textContent = "";
    box.hidden = !edge;
    if (!edge) { return; }
    dl.appendChild(F.el("dt", { text: F.t("suspects.confidence") }));
    dl.appendChild(F.el("dd", { text: suspectedLabel(edge.data("confidence"), F.t) }));
    for (const [k, v] of Object.entries(edge.data("evidence") || {})) {
      dl.appendChild(F.el("dt", { text: k.replace(/_/g, " ") }));
      dl.appendChild(F.el("dd", { text: Array.isArray(v) ? v.join(", ") : String(v) }));
    }
  }
  function showTip(ev) {
    const edge = tip && suspectedEdge(ev.target);
    if (!edge) { return; }
    tip.textContent = "";
    evidenceText(edge).split("\n").forEach((line, i) => tip.appendChild(F.el("div", { text: line, class: i ? "" : "tip-head" })));
    const p = ev.renderedPosition || ev.target.renderedMidpoint();
    tip.style.left = Math.min(p.x + 12, container.clientWidth - 200) + "px";
    tip.style.top = (p.y + 12) + "px";
    tip.hidden = false;
  }

  function showEdgePanel(edge) {
    const idEl = panel.querySelector(".gp-id");
    idEl.textContent = edge.data("source") + " → " + edge.data("target");
    panel.querySelector(".gp-meta").textContent = F.t("rel." + edge.data("relation"));
    panel.querySelector(".gp-open").hidden = panel.querySelector(".gp-centre").hidden = true;
    showEvidence(edge);
    panel.hidden = false;
  }

  function showPanel(n) {
    const d = n.data();
    showEvidence(suspectedEdge(n));
    // Break points after the id's separators only, never inside a word.
    F.breakable(panel.querySelector(".gp-id"), d.kind === "group" ? d.label : d.id);
    const meta = d.kind === "group"
      ? F.t("graph.group_meta", { n: F.num(d.members), total: F.num(d.total), what: F.t("relp." + d.relation), anchor: d.anchor })
      : F.t("graph.meta", { kind: F.t("kind." + d.kind), downloads: F.num(d.downloads), descendants: F.num(d.descendants) });
    panel.querySelector(".gp-meta").textContent = meta;
    const open = panel.querySelector(".gp-open"), centre = panel.querySelector(".gp-centre");
    open.hidden = centre.hidden = d.kind === "group";
    if (d.kind !== "group") {
      open.setAttribute("href", F.page(d.kind, d.id));
      centre.setAttribute("href", F.page(d.kind, d.id) + "?max_depth=2");
    }
    panel.hidden = false;
  }
  function openGroup(n) {
    const key = n.id().replace(/^group:/, "");
    opened[key] = n.data("next_offset");
    draw({ panelFor: n.id() });
  }

  // The box of a label in page pixels, and whether it can be read (inside the view, big enough).
  function state() {
    if (!cy) { return { nodes: [] }; }
    const rect = container.getBoundingClientRect();
    if (sg) { return sigmaState(rect); }
    const zoom = cy.zoom();
    return {
      zoom, fontPx: FONT * zoom, draws, timing,
      nodes: cy.nodes().map((n) => {
        const b = n.renderedBoundingBox({ includeLabels: true, includeOverlays: false });
        const x = rect.left + window.scrollX + b.x1, y = rect.top + window.scrollY + b.y1;
        const inside = b.x2 > 0 && b.y2 > 0 && b.x1 < container.clientWidth && b.y1 < container.clientHeight;
        return { id: n.id(), label: n.data("label"), title: n.data("title"), x, y, w: b.w, h: b.h,
          fontPx: FONT * zoom, labelVisible: inside && FONT * zoom >= MIN_PX, members: n.data("members"),
          kind: n.data("kind"), layer: n.data("layer"), more: !!n.data("more"), suspected: !!n.data("suspected") };
      }),
      edges: cy.edges().map((e) => ({ source: e.data("source"), target: e.data("target"), relation: e.data("relation"),
        suspected: !!e.data("suspected"), label: e.data("label") || "", dashed: e.style("line-style") === "dashed",
        evidence: e.data("evidence") || null })),
    };
  }

  // The same, read from sigma: a label box is the layout's box at the camera's scale, visible
  // when sigma's label grid drew it at a legible size inside the view.
  function sigmaState(rect) {
    const s = sg.scale();
    return {
      zoom: s, fontPx: FONT * s, draws, timing, renderer: "webgl",
      nodes: cy.nodes().map((n) => {
        const c = sg.viewport(n.position()), w = n.data("w") * s, h = n.data("h") * s;
        const bx = c.x - w / 2, by = c.y - h / 2;
        const inside = bx + w > 0 && by + h > 0 && bx < container.clientWidth && by < container.clientHeight;
        return { id: n.id(), label: n.data("label"), title: n.data("title"), x: rect.left + window.scrollX + bx,
          y: rect.top + window.scrollY + by, w, h, fontPx: FONT * s,
          labelVisible: inside && FONT * s >= MIN_PX && sg.labelled(n.id()), members: n.data("members"),
          kind: n.data("kind"), layer: n.data("layer"), more: !!n.data("more"), suspected: !!n.data("suspected") };
      }),
      edges: cy.edges().map((e) => ({ source: e.data("source"), target: e.data("target"), relation: e.data("relation"),
        suspected: !!e.data("suspected"), label: e.data("label") || "", dashed: !!e.data("suspected"),
        evidence: e.data("evidence") || null })),
    };
  }

  // A large drawing in a view of its own height; opened like fit() does, on the start at a
  // readable size when the whole is too small to read.
  function sigmaFit() {
    container.style.height = Math.max(baseHeight, Math.min(800, window.innerHeight - 80)) + "px";
    sg.renderer.resize();
    sg.fit();
    sg.renderer.refresh();
    if (sg.scale() >= READABLE) { return false; }
    const root = cy.nodes("[root = 1]");
    const bb = cy.nodes().boundingBox();
    sg.look({ x: root.nonempty() ? root.position("x") : bb.x1 + bb.w / 2, y: bb.y1 }, { x: container.clientWidth / 2, y: 24 }, READABLE);
    sg.renderer.refresh();
    return true;
  }

  // The items' colours in WebGL, those of the Cytoscape styles.
  function look(n) {
    return { color: n.style("border-color"), fill: n.style("background-color"), ink: n.style("color"),
      dashed: n.style("border-style") === "dashed" };
  }

  // The drawing fills the width at a readable zoom, the view growing taller for deep
  // families; a drawing wider than the page at a readable zoom opens on its start, readable,
  // the rest a drag away (the "Fit to view" button shows it all, smaller).
  function fit() {
    cy.resize();
    const bb = cy.elements().boundingBox();
    const zoom = Math.min(TOP_ZOOM, (container.clientWidth - 40) / Math.max(1, bb.w));
    const wide = zoom < READABLE;
    const used = wide ? READABLE : zoom;
    container.style.height = Math.min(Math.max(baseHeight, Math.ceil(bb.h * used + 48)), wide ? 2400 : 4000) + "px";
    cy.resize();
    if (!wide) {
      cy.fit(undefined, 20);
      if (cy.zoom() > TOP_ZOOM) { cy.zoom(TOP_ZOOM); cy.center(); }
      return false;
    }
    const root = cy.nodes("[root = 1]");
    cy.zoom(READABLE);
    cy.pan({ x: container.clientWidth / 2 - root.position("x") * READABLE, y: 24 - bb.y1 * READABLE });
    return true;
  }

  // The side panel, the tips and the links of a WebGL drawing: sigma's events, the model's items.
  function wire(view) {
    const item = (id) => cy.getElementById(id);
    const at = (ev) => ({ x: ev.event.x, y: ev.event.y });
    view.renderer.on("clickNode", ({ node }) => { const n = item(node); showPanel(n); if (n.data("kind") === "group") { openGroup(n); } });
    view.renderer.on("doubleClickNode", ({ node, event }) => {
      const n = item(node);
      if (n.data("kind") !== "group") { event.preventSigmaDefault(); window.location.href = F.page(n.data("kind"), n.id()); }
    });
    // A suspected link's evidence: on its items (its dashed line is not a WebGL edge).
    view.renderer.on("enterNode", (ev) => showTip({ target: item(ev.node), renderedPosition: at(ev) }));
    view.renderer.on("leaveNode", () => { if (tip) { tip.hidden = true; } });
  }

  async function draw(options = {}) {
    if (typeof window.cytoscape !== "function" || typeof window.ELK !== "function") { return; }
    const empty = emptyGroup(view);
    view.querySelectorAll("fieldset").forEach((f) => f.removeAttribute("aria-invalid"));
    if (empty) {
      empty.setAttribute("aria-invalid", "true");
      statusEl.textContent = F.t("expert.none_ticked", { group: empty.querySelector("legend").textContent });
      statusEl.classList.add("error");
      return;
    }
    statusEl.classList.remove("error");
    if (!document.getElementById("__________cytoscape_stylesheet")) {
      document.head.appendChild(F.el("meta", { id: "__________cytoscape_stylesheet", name: "cytoscape-style", content: "app.css" }));
    }
    statusEl.textContent = F.t("graph.loading");
    container.dataset.ready = "false";
    updateDownloads();
    try {
      let width = chosenWidth() || guessWidth(), data = null, tries = 0, arrived = 0, first = 0;
      const started = performance.now();
      for (;;) {
        data = await fetch(F.root + "/api/" + source + "?" + query(width).toString(), { headers: { Accept: "application/json" } })
          .then((r) => { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
        arrived = performance.now();
        first = first || arrived;
        tries += 1;
        if (sg) { sg.kill(); sg = null; }
        if (cy) { cy.destroy(); }
        const large = data.nodes.length > LARGE && webglAvailable();
        cy = window.cytoscape(Object.assign(large ? { headless: true, styleEnabled: true } : { container },
          { elements: elements(data, vocab, F.t, F.num), style: styles(), minZoom: 0.05, maxZoom: 4,
            boxSelectionEnabled: false }));
        await layered(cy);
        const room = (container.clientWidth - 40) / Math.max(1, cy.elements().boundingBox().w);
        if (chosenWidth() || room >= READABLE || width <= 3) { break; }
        // Narrower, in proportion to the room missing (one more try at most, usually).
        width = Math.max(3, Math.min(width - 1, Math.floor(width * room / READABLE)));
      }
      last = data;
      // The panel of an opened group follows its new count; any other panel closes.
      const again = options.panelFor ? cy.getElementById(options.panelFor) : null;
      if (again && again.nonempty()) { showPanel(again); } else { panel.hidden = true; }
      if (cy.headless()) {
        container.textContent = "";
        try { sg = sigmaView(container, cy, look); } catch (err) {
          // No WebGL after all: Cytoscape's canvas draws it, slower.
          if (window.console) { console.info(err); }
          const json = cy.json();
          cy.destroy();
          cy = window.cytoscape({ container, elements: json.elements, style: styles(), minZoom: 0.05, maxZoom: 4, boxSelectionEnabled: false });
        }
      }
      const wide = sg ? sigmaFit() : fit();
      if (!depthsSet) { depthOptions(form.elements.max_depth, data.generations, F.t); depthsSet = true; }
      const groups = cy.nodes('[kind = "group"]');
      statusEl.textContent = status(data, { items: cy.nodes().length, links: cy.edges().length,
        grouped: groups.reduce((s, n) => s + n.data("members"), 0) }, F.t, F.num)
        + (focus ? " — " + F.t("graph.focus", { what: F.t("relp." + focus.relation), g: focus.generation }) : "")
        + (wide ? " — " + F.t("graph.wide") : "");
      table(view, cy, F);
      overview(view, data, F, (cell) => { focus = cell; opened = {}; draw(); });
      if (sg) { wire(sg); }
      cy.on("tap", "node", (ev) => { showPanel(ev.target); if (ev.target.data("kind") === "group") { openGroup(ev.target); } });
      cy.on("tap", "edge[suspected = 1]", (ev) => showEdgePanel(ev.target));
      cy.on("mouseover", "[suspected = 1]", showTip);
      cy.on("mouseout", "[suspected = 1]", () => { if (tip) { tip.hidden = true; } });
      cy.on("dbltap", "node[kind != \"group\"]", (ev) => { window.location.href = F.page(ev.target.data("kind"), ev.target.id()); });
      draws += 1;
      // How long the drawing took once its data had arrived (benchmarks/browser.py).
      const now = performance.now();
      timing = { total: now - started, afterFirstData: now - first, afterData: now - arrived, tries };
      container.dataset.ready = "true";
    } catch (err) {
      statusEl.textContent = F.t("graph.error");
      if (window.console) { console.info(err); }
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    focus = null;
    opened = {};
    if (!emptyGroup(view)) { remember(form); }
    draw();
  });
  view.querySelector(".graph-fit").addEventListener("click", () => { if (sg) { sg.fit(); } else if (cy) { cy.fit(undefined, 20); } });
  const name = (rootId.replace(/[^\w.-]+/g, "_") || "graph");
  const pngButton = view.querySelector(".download-png");
  if (pngButton) { pngButton.addEventListener("click", () => { if (cy) { png(cy).then((blob) => save(blob, name + ".png")); } }); }
  const svgButton = view.querySelector(".download-svg");
  if (svgButton) { svgButton.addEventListener("click", () => { if (cy) { save(new Blob([svgText(cy, rootId, F.t)], { type: "image/svg+xml" }), name + ".svg"); } }); }
  const restored = restore(view, form);
  updateDownloads();
  return { draw, drawn: () => cy !== null, restored, state, cy: () => cy, sigma: () => sg, view: () => last };
}

F.graphs = {};
F.ready().then(() => {
  for (const view of document.querySelectorAll(".graph-view")) {
    const g = mount(view);
    F.graphs[view.id] = g;
    window.filiationGraph = g;
    // A graph in a hidden tab is drawn when the tab opens (model.js), at once when the URL
    // carries graph settings; others right away.
    const panel = view.closest("[role=tabpanel]");
    const tab = panel && document.querySelector('[role=tab][aria-controls="' + panel.id + '"]');
    if (view.dataset.lazy === undefined) { g.draw(); } else if (g.restored && tab) { tab.click(); }
  }
});
