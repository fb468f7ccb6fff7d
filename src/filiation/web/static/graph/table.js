// The sortable table of what is drawn (expert mode): one row per item, groups included.
const COLUMNS = [
  { key: "id", label: "table.id" }, { key: "kind", label: "table.kind" },
  { key: "relation", label: "table.relation" }, { key: "layer", label: "table.depth", num: true },
  { key: "downloads", label: "table.downloads", num: true }, { key: "members", label: "table.members", num: true },
];
const sorting = new WeakMap();

function cell(F, d, key) {
  if (key === "kind") { return F.t("kind." + d.kind); }
  if (key === "relation") { return d.relation ? F.t("rel." + d.relation) : "—"; }
  if (key === "downloads" || key === "members") { return F.num(d[key]); }
  if (key === "layer") { return String(d.layer); }
  return d.kind === "group" ? d.label : d[key];
}

export function table(view, cy, F) {
  const box = view.querySelector(".graph-table");
  if (!box || !cy) { return; }
  const sort = sorting.get(view) || { key: null, down: false };
  const rows = cy.nodes().map((n) => n.data());
  if (sort.key) {
    const col = COLUMNS.find((c) => c.key === sort.key);
    rows.sort((a, b) => {
      const x = a[sort.key], y = b[sort.key];
      const r = col.num ? (x ?? -Infinity) - (y ?? -Infinity) : String(x || "").localeCompare(String(y || ""));
      return sort.down ? -r : r;
    });
  }
  const el = F.el;
  const head = el("tr", {}, COLUMNS.map((c) => {
    const state = c.key === sort.key ? (sort.down ? "descending" : "ascending") : "none";
    const btn = el("button", { type: "button", class: "sort", "data-key": c.key, text: F.t(c.label) });
    btn.addEventListener("click", () => {
      sorting.set(view, { key: c.key, down: sort.key === c.key ? !sort.down : !!c.num });
      table(view, cy, F);
    });
    return el("th", { scope: "col", "aria-sort": state }, [btn]);
  }));
  const body = el("tbody", {}, rows.map((d) => el("tr", { class: "kind-" + d.kind, "data-id": d.id }, COLUMNS.map((c) => {
    if (c.key === "id" && d.kind !== "group") { return el("td", {}, [el("a", { href: F.page(d.kind, d.id), text: d.id })]); }
    return el("td", { class: c.num ? "num" : null, text: cell(F, d, c.key) });
  }))));
  box.textContent = "";
  box.appendChild(el("p", { class: "help", text: F.t("table.count", { count: rows.length }) }));
  box.appendChild(el("table", { class: "lineage" }, [el("thead", {}, [head]), body]));
}
