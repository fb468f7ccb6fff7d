// The overview of a whole family: how many members each generation has, per relation (the
// link that first reached them). Each count is a button drawing the graph filtered to it.
export function overview(view, data, F, choose) {
  const box = view.querySelector(".graph-overview");
  if (!box) { return; }
  box.textContent = "";
  const cells = data.overview || [];
  if (!cells.length) { return; }
  const rels = [...new Set(cells.map((c) => c.relation))];
  const gens = [...new Set(cells.map((c) => c.generation))].sort((a, b) => a - b);
  const count = new Map(cells.map((c) => [c.generation + "|" + c.relation, c.count]));
  const max = Math.max(...cells.map((c) => c.count));
  const el = F.el;
  const head = el("tr", {}, [el("th", { scope: "col", text: F.t("graph.overview_gen") })].concat(
    rels.map((r) => el("th", { scope: "col" }, [el("span", { class: "swatch rel-" + r, "aria-hidden": "true" }), F.t("relp." + r)]))));
  // Generations signed, with a true minus sign (ancestors): "+2", "−1".
  const signed = (g) => (g > 0 ? "+" + g : g < 0 ? "\u2212" + -g : String(g));
  const body = el("tbody", {}, gens.map((g) => el("tr", {}, [el("th", { scope: "row", text: signed(g) })].concat(
    rels.map((r) => {
      const n = count.get(g + "|" + r);
      if (!n) { return el("td", { class: "num zero", text: "·" }); }
      const b = el("button", { type: "button", class: "cell", "data-generation": String(g), "data-relation": r,
        title: F.t("graph.overview_cell", { n: F.num(n), what: F.t("relp." + r), g: signed(g) }), text: F.num(n) });
      b.dataset.level = String(Math.ceil((4 * Math.log(1 + n)) / Math.log(1 + max)));
      b.addEventListener("click", () => choose({ generation: g, relation: r }));
      return el("td", { class: "num" }, [b]);
    })))));
  box.appendChild(el("p", { class: "help", text: F.t("graph.overview_help", { n: F.num(data.family) }) }));
  box.appendChild(el("table", { class: "overview" }, [el("thead", {}, [head]), body]));
}
