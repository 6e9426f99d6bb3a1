// The point editor's picture (web/drag_points_widget.js draws through it): the image contained and
// centred, each pair a numbered arrow from its red source to its blue target, a source waiting for its
// target ringed, and words (why there is no picture, or why the node would refuse the text) wrapped
// across the middle. Canvas only: nothing here reads the graph or the workflow.
const COLOR = { source: "#ff4d4f", target: "#3b82f6", line: "#ffffff", shadow: "rgba(0,0,0,0.75)" };

/** Where a w x h image lies on the canvas (canvas pixels): contained and centred; null with no size. */
export function frameOf(canvas, w, h) {
  if (!w || !h || !canvas.width || !canvas.height) return null;
  const s = Math.min(canvas.width / w, canvas.height / h);
  return { x: (canvas.width - w * s) / 2, y: (canvas.height - h * s) / 2, s, w, h };
}

/** Paints the whole canvas: `frame` from frameOf (null: words only), pairs and pending in image pixels. */
export function paint(canvas, { frame: f, img, pairs, pending, words, dpr }) {
  const g = canvas.getContext("2d"), { width: w, height: h } = canvas, radius = 5 * dpr;
  g.clearRect(0, 0, w, h);
  Object.assign(g, { font: `${Math.round(12 * dpr)}px sans-serif`, textAlign: "center", textBaseline: "middle", lineCap: "round" });
  if (f) {
    g.fillStyle = "#2a2a2a";
    if (img) g.drawImage(img, f.x, f.y, f.w * f.s, f.h * f.s);
    else g.fillRect(f.x, f.y, f.w * f.s, f.h * f.s);
  }
  if (words) writeLines(g, words, w, h, dpr);
  if (!f) return;
  const at = (p) => [f.x + p[0] * f.s, f.y + p[1] * f.s];
  const stroke = (color, lineWidth, path, dash = []) => {
    Object.assign(g, { strokeStyle: color, lineWidth: lineWidth * dpr });
    g.setLineDash(dash); g.beginPath(); path(); g.stroke();
  };
  const dot = (p, color, ring = false) => {
    const [x, y] = at(p), circle = (rad) => () => g.arc(x, y, rad, 0, 2 * Math.PI);
    g.beginPath(); circle(radius)(); g.fillStyle = color; g.fill();
    stroke(COLOR.shadow, 1.5, circle(radius));
    if (ring) stroke(COLOR.line, 1.5, circle(2 * radius), [3 * dpr, 3 * dpr]);
  };
  pairs.forEach(([s, t], i) => {
    const [x0, y0] = at(s), [tx, ty] = at(t), a = Math.atan2(ty - y0, tx - x0), head = 10 * dpr;
    const [x1, y1] = [tx - (radius + dpr) * Math.cos(a), ty - (radius + dpr) * Math.sin(a)]; // tip at the dot's rim
    const barb = (da) => g.lineTo(x1 - head * Math.cos(a + da), y1 - head * Math.sin(a + da));
    const arrow = () => { g.moveTo(x0, y0); g.lineTo(x1, y1); barb(-0.45); g.moveTo(x1, y1); barb(0.45); };
    stroke(COLOR.shadow, 4, arrow);
    stroke(COLOR.line, 2, arrow);
    dot(s, COLOR.source);
    dot(t, COLOR.target);
    const [lx, ly] = [x0 - (radius + 8 * dpr) * Math.cos(a), y0 - (radius + 8 * dpr) * Math.sin(a)]; // behind the source
    Object.assign(g, { lineWidth: 3 * dpr, strokeStyle: COLOR.shadow, fillStyle: COLOR.line });
    g.strokeText(String(i + 1), lx, ly);
    g.fillText(String(i + 1), lx, ly);
  });
  if (pending) dot(pending, COLOR.source, true);
}

/** `text` centred on the canvas, wrapped to its width. */
function writeLines(g, text, w, h, dpr) {
  const lines = [];
  for (const word of text.split(" ")) {
    const line = lines.length ? `${lines.at(-1)} ${word}` : word;
    if (lines.length && g.measureText(line).width <= w - 16 * dpr) lines[lines.length - 1] = line;
    else lines.push(word);
  }
  const step = 16 * dpr, top = h / 2 - ((lines.length - 1) * step) / 2;
  Object.assign(g, { fillStyle: "#bbb", strokeStyle: "rgba(0,0,0,0.8)", lineWidth: 3 * dpr });
  lines.forEach((line, i) => { g.strokeText(line, w / 2, top + i * step); g.fillText(line, w / 2, top + i * step); });
}
