// The form above a graph: its named fields are the API's query parameters (filtering happens
// in the service, as for the CLI); the settings of a drawing are kept in the page's URL (and
// in the language switch's link) so that a filtered graph can be shared or read in French.
const EXPERT = ["kind", "relation", "min_downloads", "since", "until"];

// A checkbox group with no box ticked: nothing would mean "nothing", which the API cannot say
// (an absent parameter means "the default"), so the form refuses it.
export function emptyGroup(view) {
  for (const set of view.querySelectorAll("fieldset")) {
    const boxes = set.querySelectorAll("input[type=checkbox]");
    if (boxes.length && !set.querySelectorAll("input[type=checkbox]:checked").length) { return set; }
  }
  return null;
}

export function params(form) {
  const out = {}, groups = {};
  for (const f of form.elements) {
    if (!f.name || f.dataset.local !== undefined) { continue; }
    if (f.type === "checkbox") {
      const g = (groups[f.name] = groups[f.name] || { on: [], all: 0, omitAll: f.dataset.omitAll !== undefined });
      g.all += 1;
      if (f.checked) { g.on.push(f.value); }
    } else if (String(f.value).trim() !== "") {
      out[f.name] = String(f.value).trim();
    }
  }
  for (const [name, g] of Object.entries(groups)) {
    if (!(g.omitAll && g.on.length === g.all) && g.on.length) { out[name] = g.on.join(","); }
  }
  return out;
}

function fieldNames(form) {
  return [...new Set([...form.elements].map((f) => f.name).filter(Boolean))];
}

export function remember(form) {
  const q = new URLSearchParams(window.location.search);
  fieldNames(form).forEach((n) => q.delete(n));
  for (const [k, v] of Object.entries(params(form))) { q.set(k, v); }
  const search = q.toString() ? "?" + q.toString() : "";
  window.history.replaceState(null, "", window.location.pathname + search);
  for (const a of document.querySelectorAll("a.lang-switch")) {
    const url = new URL(a.href);
    url.search = search;
    a.href = url.toString();
  }
}

export function restore(view, form) {
  const q = new URLSearchParams(window.location.search);
  let found = false, expert = false;
  for (const name of fieldNames(form)) {
    if (!q.has(name)) { continue; }
    found = true;
    if (EXPERT.includes(name)) { expert = true; }
    const value = q.get(name), wanted = value.split(",");
    for (const f of form.elements) {
      if (f.name !== name || f.type === "hidden" || f.disabled) { continue; }
      if (f.type === "checkbox") { f.checked = wanted.includes(f.value); }
      else if (f.tagName === "SELECT" && ![...f.options].some((o) => o.value === value)) {
        f.appendChild(new Option(value, value));
        f.value = value;
      } else { f.value = value; }
    }
  }
  const details = view.querySelector("details.expert");
  if (expert && details) { details.open = true; }
  return found;
}

// The generations menu: 1 … the family's real number of generations, then "all".
export function depthOptions(select, generations, t) {
  const keep = select.value;
  const most = Math.max(1, generations.above || 0, generations.below || 0);
  select.textContent = "";
  for (let d = 1; d <= most; d++) { select.appendChild(new Option(String(d), String(d))); }
  select.appendChild(new Option(t("graph.depth_all", { n: most }), "all"));
  select.value = [...select.options].some((o) => o.value === keep) ? keep : "all";
}

// What cut the drawing, in words: the depth bound, the width of a generation (groups), the
// size bound (parents whose children are left out).
export function status(view, drawn, t, num) {
  const parts = [t("graph.status", { nodes: num(drawn.items), links: num(drawn.links), family: num(view.family) })];
  if (drawn.grouped) { parts.push(t("graph.cut_width", { n: num(drawn.grouped) })); }
  if (view.left_out) { parts.push(t("graph.cut_left_out", { n: num(view.left_out) })); }
  if (view.cut.depth) { parts.push(t("graph.cut_depth")); }
  if (view.cut.budget) { parts.push(t("graph.cut_budget")); }
  return parts.join(" — ");
}
