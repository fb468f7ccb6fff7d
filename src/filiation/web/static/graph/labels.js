// Labels of the graph's items: the author on its own line, then the whole name wrapped after
// its separators (- _ and spaces) but never inside a word; measured in the font they are drawn
// in, so that the layout reserves each label's real box and no two labels can overlap.
export const FONT = 13;          // px at zoom 1
export const LINE = 16;          // line height, px at zoom 1
export const FAMILY = "Helvetica, Arial, sans-serif";
export const MIN_PX = 11;        // the smallest legible label, in page pixels
const PAD_X = 10, PAD_Y = 7, ROOM = 24;

const ctx = document.createElement("canvas").getContext("2d");

// Lines of at most ROOM characters, cut after a separator; a longer word stays whole.
export function wrap(text, room = ROOM) {
  const words = text.split(/(?<=[-_ ])/);
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
  const lines = slash < 0 ? wrap(item.id) : [item.id.slice(0, slash + 1)].concat(wrap(item.id.slice(slash + 1)));
  // Where the family goes on without being drawn (not even in a group): one more line.
  const more = [];
  if (item.more_above) { more.push(t("graph.more_above", { n: num(item.more_above) })); }
  if (item.more_below) { more.push(t("graph.more_below", { n: num(item.more_below) })); }
  return more.length ? lines.concat([more.join(" · ")]) : lines;
}

export function measure(lines, bold) {
  ctx.font = (bold ? "bold " : "") + FONT + "px " + FAMILY;
  const w = Math.max.apply(null, lines.map((l) => ctx.measureText(l).width));
  return { w: Math.ceil(w) + 2 * PAD_X, h: lines.length * LINE + 2 * PAD_Y };
}
