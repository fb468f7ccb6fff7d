// Labels of the graph's items: the author and the whole name, wrapped between words (at the
// separators of an id: - _ . /) but never inside one, measured with the font they are drawn
// in, so that the layout reserves each label's real box and no two labels can overlap.
export const FONT = 13;          // px at zoom 1
export const LINE = 16;          // line height, px at zoom 1
export const FAMILY = "Helvetica, Arial, sans-serif";
export const MIN_PX = 11;        // the smallest legible label, in page pixels
const PAD_X = 10, PAD_Y = 7, ROOM = 24;

const ctx = document.createElement("canvas").getContext("2d");

// Lines of at most ROOM characters, cut after a separator; a longer word stays whole.
export function wrap(text, room = ROOM) {
  const words = text.split(/(?<=[-_./ ])/);
  const lines = [];
  let line = "";
  for (const w of words) {
    if (line && (line + w).length > room) { lines.push(line); line = w; } else { line += w; }
  }
  if (line) { lines.push(line); }
  return lines;
}

export function linesOf(item, t, num) {
  if (item.kind === "group") {
    return [t("graph.group", { n: num(item.members), what: t("relp." + item.relation) })];
  }
  const slash = item.id.indexOf("/");
  if (slash < 0) { return wrap(item.id); }
  return [item.id.slice(0, slash + 1)].concat(wrap(item.id.slice(slash + 1)));
}

export function measure(lines, bold) {
  ctx.font = (bold ? "bold " : "") + FONT + "px " + FAMILY;
  const w = Math.max.apply(null, lines.map((l) => ctx.measureText(l).width));
  return { w: Math.ceil(w) + 2 * PAD_X, h: lines.length * LINE + 2 * PAD_Y };
}
