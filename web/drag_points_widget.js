// Drag Points widget: pick source -> target pairs on the image that feeds the node.
// The pairs live in image pixels as JSON in the node's `points` widget, so saving, reloading,
// copy/paste and resizing keep them. Nothing from the workflow is ever parsed as HTML.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const NODE_TYPE = "SDEDragPoints";
const HIT_PX = 10; // how near (screen px) a press must be to grab a point
const MAX_UNDO = 100;
const COLOR = { source: "#ff4d4f", target: "#3b82f6", line: "#ffffff", shadow: "rgba(0,0,0,0.75)" };
const NUMBER = /[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?/gi;

/** {pairs, width, height} from the widget text: the JSON form, or the "sx,sy -> tx,ty" lines the node reads too. */
export function parsePoints(text) {
  const out = { pairs: [], width: 0, height: 0 };
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : NaN);
  const setSize = (w, h) => { if (w >= 1 && h >= 1) [out.width, out.height] = [Math.round(w), Math.round(h)]; };
  if (typeof text !== "string") return out;
  if (!/^\s*[[{]/.test(text)) {
    for (const line of text.split(/[;\n]/)) {
      const n = (line.match(NUMBER) || []).map(Number);
      if (/^\s*size/i.test(line) && n.length === 2) setSize(n[0], n[1]);
      else if (/->|=>|>|\bto\b/.test(line) && n.length === 4) out.pairs.push([[n[0], n[1]], [n[2], n[3]]]);
    }
    return out;
  }
  try {
    let data = JSON.parse(text);
    if (Array.isArray(data)) data = { points: data };
    out.pairs = (Array.isArray(data?.points) ? data.points : [])
      .map((p) => [[num(p?.[0]?.[0]), num(p?.[0]?.[1])], [num(p?.[1]?.[0]), num(p?.[1]?.[1])]])
      .filter((p) => p.flat().every(Number.isFinite));
    setSize(num(data?.width), num(data?.height));
  } catch { /* not JSON after all: no points */ }
  return out;
}

function viewUrl(name, type, subfolder = "") {
  const annotated = /^(.*) \[(input|output|temp)\]$/.exec(name);
  if (annotated) [name, type] = [annotated[1], annotated[2]];
  const cut = name.lastIndexOf("/");
  if (cut >= 0) [subfolder, name] = [name.slice(0, cut), name.slice(cut + 1)];
  return api.apiURL("/view?" + new URLSearchParams({ filename: name, type, subfolder }));
}

const CASE_LOADER = "SDEDragLoadDragBenchCase";
const MAX_REROUTES = 32; // a loop of Reroutes must not hang the page

/** The node whose output reaches `node`'s input `name`, through any Reroutes; null when unlinked. */
function sourceNode(node, name) {
  let [current, slot] = [node, node.findInputSlot?.(name) ?? -1];
  for (let hop = 0; hop < MAX_REROUTES && slot >= 0 && current?.graph; hop++) {
    let link = null;
    try { link = current.getInputLink(slot); } catch { /* a node being removed */ }
    const origin = link && current.graph.getNodeById(link.origin_id);
    if (!origin || origin.type !== "Reroute") return origin || null;
    [current, slot] = [origin, 0];
  }
  return null;
}

/** Where the picture that feeds the node can be fetched before any run: {url} or, when it cannot
 *  be known until the graph runs, {hint}. A DragBench case's picture comes from the pack's
 *  /sde_drag/dragbench_case_image route, which finds the case exactly as the loader node does. */
function upstreamImage(node) {
  const origin = sourceNode(node, "image");
  if (!origin) return { hint: "Connect a Load Image (or run the graph)" };
  const value = (name) => origin.widgets?.find((w) => w.name === name)?.value;
  if (origin.type === CASE_LOADER && typeof value("case") === "string" && value("case"))
    return { url: api.apiURL("/sde_drag/dragbench_case_image?" + new URLSearchParams({ case: value("case") })) };
  if (typeof value("image") === "string" && value("image")) return { url: viewUrl(value("image"), "input") };
  if (origin.imgs?.[0]?.src) return { url: origin.imgs[0].src };
  return { hint: `Run once to see the image: the picture comes from ${origin.title || origin.type}` };
}

/** Run `fn` after whatever `target[name]` already did (other extensions keep working). */
function chain(target, name, fn) {
  const previous = target[name];
  target[name] = function (...args) { const result = previous?.apply(this, args); fn.apply(this, args); return result; };
}

function el(tag, style, text = "") {
  const e = Object.assign(document.createElement(tag), { textContent: text });
  Object.assign(e.style, style);
  return e;
}

class PointEditor {
  constructor(node) {
    this.node = node;
    this.store = node.widgets.find((w) => w.name === "points");
    this.store.hidden = true; // the canvas edits it; prompts and saved workflows carry its text
    this.store.options = { ...this.store.options, hidden: true };
    this.store.computeSize = () => [0, -4]; // older frontends still lay hidden widgets out
    [this.model, this.pending, this.undoStack] = [parsePoints(""), null, []]; // pending: a source waiting for its target
    this.buildDom();
    this.widget = node.addDOMWidget("drag_points_canvas", "sde_drag_points", this.root, {
      serialize: false, hideOnZoom: false, getValue: () => "", setValue: () => {}, getMinHeight: () => 160 });
    this.widget.serialize = false; // neither in the prompt nor in widgets_values
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.canvas);
    this.timer = setInterval(() => this.tick(), 300); // follows the upstream image choice
    this.tick();
  }

  buildDom() {
    this.root = el("div", { display: "flex", flexDirection: "column", gap: "4px", width: "100%", height: "100%" });
    this.canvas = el("canvas", { flex: "1 1 auto", width: "100%", minHeight: "0", borderRadius: "4px",
      cursor: "crosshair", touchAction: "none", background: "#161616" });
    this.canvas.dataset.sdeDrag = "canvas";
    const bar = el("div", { display: "flex", gap: "6px", alignItems: "center", fontSize: "11px", color: "var(--input-text, #ddd)" });
    const button = (label, onClick) => {
      const b = el("button", { font: "inherit", padding: "1px 8px", borderRadius: "4px", cursor: "pointer", color: "inherit",
        background: "var(--comfy-input-bg, #222)", border: "1px solid var(--border-color, #444)" }, label);
      [b.type, b.dataset.sdeDrag] = ["button", label.toLowerCase()];
      b.addEventListener("pointerdown", (e) => e.stopPropagation());
      b.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
      return b;
    };
    this.status = el("span", { flex: "1", textAlign: "right", opacity: "0.8", whiteSpace: "nowrap", overflow: "hidden" });
    bar.append(button("Undo", () => this.undo()), button("Clear", () => this.edit(() => { this.model.pairs = []; this.pending = null; })), this.status);
    this.root.append(this.canvas, bar);
    const handlers = { pointerdown: this.onDown, pointermove: this.onMove, pointerup: this.onUp, pointercancel: this.onUp,
      contextmenu: (e) => { e.preventDefault(); e.stopPropagation(); } };
    for (const [type, fn] of Object.entries(handlers)) this.canvas.addEventListener(type, fn.bind(this));
  }

  /** Re-read the widget text when something else changed it (load, paste, the graph's own undo). */
  sync() {
    if (this.store.value === this.seen) return false;
    this.seen = this.store.value;
    this.model = parsePoints(this.seen);
    this.pending = null;
    this.fitModelToImage();
    return true;
  }

  tick() {
    const { url, hint } = upstreamImage(this.node);
    const changed = hint !== this.hint;
    this.hint = hint;
    this.canvas.dataset.hint = hint || "";
    if (url !== this.upstream && (this.upstream = url)) this.setImage(url); // a new upstream choice beats a former run's image
    if (this.sync() || changed) this.draw();
  }

  setImage(url) {
    if (url === this.url) return;
    this.url = url;
    const img = new Image(), settle = (ok) => {
      if (this.url !== url) return;
      [this.img, this.failed] = [ok ? img : null, !ok];
      this.fitModelToImage();
      this.draw();
    };
    Object.assign(img, { onload: () => settle(true), onerror: () => settle(false), src: url });
  }

  /** What the frame says while it has no picture (words, never an empty frame). */
  message() {
    if (this.img) return "";
    if (this.url && this.failed) return "The image could not be loaded: run once to see it";
    if (this.url) return "Loading the image…";
    return this.hint || "Connect a Load Image (or run the graph)";
  }

  onExecuted(output) {
    const shown = output?.sde_drag_image?.[0];
    if (shown?.filename) this.setImage(viewUrl(String(shown.filename), String(shown.type || "temp"), String(shown.subfolder || "")));
  }

  /** Points recorded on an image of another size are shown (and saved at the next edit) scaled to this one. */
  fitModelToImage() {
    const m = this.model, w = this.img?.naturalWidth, h = this.img?.naturalHeight;
    if (!w || !h) return;
    if (m.width && m.height && (m.width !== w || m.height !== h)) {
      const [sx, sy] = [w / m.width, h / m.height];
      m.pairs = m.pairs.map(([s, t]) => [[s[0] * sx, s[1] * sy], [t[0] * sx, t[1] * sy]]);
    }
    [m.width, m.height] = [w, h];
  }

  /** Where the image lies on the canvas (canvas pixels): contained and centred; null with no size. */
  frame() {
    const { width: w, height: h } = this.model, c = this.canvas;
    if (!w || !h || !c.width || !c.height) return null;
    const s = Math.min(c.width / w, c.height / h);
    return { x: (c.width - w * s) / 2, y: (c.height - h * s) / 2, s, w, h };
  }

  /** A pointer event in image pixels, mapped through the on-screen box (any zoom, either renderer), and the nearest point. */
  eventPoint(e) {
    const f = this.frame(), r = this.canvas.getBoundingClientRect(), k = this.canvas.width / r.width;
    if (!f || !r.width || !r.height) return null;
    const cx = (e.clientX - r.left) * k, cy = ((e.clientY - r.top) * this.canvas.height) / r.height;
    const clamp = (v, hi) => Math.min(hi - 0.1, Math.max(0, Math.round(v * 10) / 10));
    const ends = this.model.pairs.flatMap((pair, i) => [[i, 0, pair[0]], [i, 1, pair[1]]]);
    if (this.pending) ends.push([-1, 0, this.pending]); // i = -1: the waiting source
    const near = ends.map(([i, end, p]) => ({ i, end, d: Math.hypot(f.x + p[0] * f.s - cx, f.y + p[1] * f.s - cy) }))
      .reduce((best, x) => (best && best.d <= x.d ? best : x), null);
    return { p: [clamp((cx - f.x) / f.s, f.w), clamp((cy - f.y) / f.s, f.h)], near, onPoint: near && near.d <= HIT_PX * k };
  }

  onDown(e) {
    e.stopPropagation();
    e.preventDefault();
    this.sync();
    const at = this.eventPoint(e);
    if (!at || (e.button !== 0 && e.button !== 2)) return;
    if (e.button === 2 || e.shiftKey) { // delete the nearest pair
      if (at.near) this.edit(() => (at.near.i < 0 ? (this.pending = null) : this.model.pairs.splice(at.near.i, 1)));
    } else if (at.onPoint) { // grab it; onUp commits the move
      this.remember();
      this.drag = at.near;
      this.canvas.setPointerCapture?.(e.pointerId);
    } else if (this.pending) this.edit(() => { this.model.pairs.push([this.pending, at.p]); this.pending = null; });
    else { this.remember(); this.pending = at.p; this.draw(); }
  }

  onMove(e) {
    const at = this.eventPoint(e);
    if (!at) return;
    if (!this.drag) return void (this.canvas.style.cursor = at.onPoint ? "move" : "crosshair");
    e.stopPropagation();
    if (this.drag.i < 0) this.pending = at.p;
    else this.model.pairs[this.drag.i][this.drag.end] = at.p;
    this.draw();
  }

  onUp(e) {
    if (!this.drag) return;
    e.stopPropagation();
    this.drag = null;
    if (this.undoStack.at(-1) === this.snapshot()) this.undoStack.pop(); // a click on a point, no move
    else this.commit();
  }

  snapshot() { return JSON.stringify([this.model, this.pending]); }
  remember() { this.undoStack = [...this.undoStack.slice(1 - MAX_UNDO), this.snapshot()]; }
  edit(change) { this.remember(); change(); this.commit(); }

  undo() {
    const last = this.undoStack.pop();
    if (last) [this.model, this.pending] = JSON.parse(last);
    if (last) this.commit();
  }

  /** Write the pairs (image pixels, to 0.1 px) into the node's `points` widget and redraw. */
  commit() {
    const round = (p) => p.map((v) => Math.round(v * 10) / 10);
    const { pairs, width, height } = this.model;
    this.seen = JSON.stringify({ points: pairs.map(([s, t]) => [round(s), round(t)]), width, height });
    this.store.value = this.seen;
    this.node.setDirtyCanvas?.(true, true);
    app.graph?.change?.();
    this.draw();
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1, { pairs, width, height } = this.model;
    const w = Math.max(1, Math.round(c.clientWidth * dpr)), h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) [c.width, c.height] = [w, h];
    const g = c.getContext("2d"), f = this.frame(), radius = 5 * dpr;
    const count = `${pairs.length} pair${pairs.length === 1 ? "" : "s"}${this.pending ? " + source" : ""}`;
    this.status.textContent = `${count} · ${width ? `${width}×${height} px` : "no image"}`;
    g.clearRect(0, 0, w, h);
    Object.assign(g, { font: `${Math.round(12 * dpr)}px sans-serif`, textAlign: "center", textBaseline: "middle", lineCap: "round" });
    const words = this.message();
    this.canvas.dataset.message = words;
    if (f) {
      g.fillStyle = "#2a2a2a";
      if (this.img) g.drawImage(this.img, f.x, f.y, f.w * f.s, f.h * f.s);
      else g.fillRect(f.x, f.y, f.w * f.s, f.h * f.s);
    }
    if (words) this.writeLines(g, words, w, h, dpr);
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
    if (this.pending) dot(this.pending, COLOR.source, true);
  }

  /** `text` centred on the canvas, wrapped to its width. */
  writeLines(g, text, w, h, dpr) {
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

  dispose() { clearInterval(this.timer); this.resizeObserver.disconnect(); }
}

app.registerExtension({
  name: "SDEDrag.PointWidget",
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData?.name !== NODE_TYPE) return;
    const proto = nodeType.prototype;
    chain(proto, "onNodeCreated", function () {
      if (!this.widgets?.some((w) => w.name === "points")) return;
      this.sdeDrag = new PointEditor(this);
      this.setSize?.([Math.max(this.size[0], 300), Math.max(this.size[1], 340)]);
    });
    chain(proto, "onConfigure", function () { this.sdeDrag?.tick(); });
    chain(proto, "onExecuted", function (output) { this.sdeDrag?.onExecuted(output); });
    chain(proto, "onRemoved", function () { this.sdeDrag?.dispose(); });
  },
});
