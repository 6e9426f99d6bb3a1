// Drag Points widget: pick source -> target pairs on the image that feeds the node.
// The pairs live in image pixels as JSON in the node's `points` widget, so saving, reloading,
// copy/paste and resizing keep them. Nothing from the workflow is ever parsed as HTML.
// No timer and no re-reading on each canvas frame: it redraws on events only (the points widget's
// callback, which its value setter calls on every frontend; graph changes, runs, links, the upstream
// picture widget and Reroutes, resizes, image loads, its own pointer events), and an editor whose node
// left the workflow by any path (onRemoved is not called for nodes inside a subgraph on every frontend)
// lets its observer go at the next graph event.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { frameOf, paint } from "./points_canvas.js";
import { parsePoints } from "./points_format.js";
import { upstreamImage, viewUrl } from "./points_source.js";
import { say } from "./points_strings.js";

const NODE_TYPE = "SDEDragPoints";
const HIT_PX = 10; // how near (screen px) a press must be to grab a point
const MAX_UNDO = 100;

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

const editors = new Set(); // WeakRefs to the editors that follow the graph's events
const followed = new WeakSet(); // upstream widgets and Reroutes whose changes already reach every editor

/** An upstream change made by script or by a widget reaches no graph event until the user's next action:
 *  a Load Image's pick or upload calls its widget's callback, a relinked Reroute its onConnectionsChange. */
function follow(target) {
  if (followed.has(target)) return;
  followed.add(target);
  chain(target, target.type === "Reroute" ? "onConnectionsChange" : "callback", () => refreshAll());
}

/** Whether `node` is still in the workflow: in the root graph, or in a subgraph that a node in the workflow opens. */
function inWorkflow(node, depth = 0) {
  const graph = node?.graph, root = app.rootGraph ?? app.graph;
  if (!graph || graph.getNodeById?.(node.id) !== node || depth > 32) return false;
  if (graph === root) return true;
  const hosts = [root, ...(root?.subgraphs?.values?.() ?? [])].flatMap((g) => g._nodes ?? []);
  return hosts.some((host) => host.subgraph === graph && inWorkflow(host, depth + 1));
}

/** On a graph event: every live editor re-reads its node; one whose node has gone is let go. */
function refreshAll() {
  for (const ref of [...editors]) {
    const editor = ref.deref();
    if (!editor) editors.delete(ref);
    else if (inWorkflow(editor.node)) editor.refresh();
    else editor.release();
  }
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
    chain(this.store, "callback", () => this.refresh()); // the text edited elsewhere (a side panel, another extension)
    [this.ref, this.resizeObserver] = [new WeakRef(this), new ResizeObserver(() => this.draw())];
    this.refresh();
  }

  /** Follow the graph's events again (after a release, if the node came back). */
  attach() {
    if (this.attached) return;
    this.attached = true;
    editors.add(this.ref);
    this.resizeObserver.observe(this.canvas);
  }

  release() { this.attached = false; editors.delete(this.ref); this.resizeObserver.disconnect(); }

  buildDom() {
    this.root = el("div", { display: "flex", flexDirection: "column", gap: "4px", width: "100%", height: "100%" });
    this.canvas = el("canvas", { flex: "1 1 auto", width: "100%", minHeight: "0", borderRadius: "4px",
      cursor: "crosshair", touchAction: "none", background: "#161616" });
    this.canvas.dataset.sdeDrag = "canvas";
    const bar = el("div", { display: "flex", gap: "6px", alignItems: "center", fontSize: "11px", color: "var(--input-text, #ddd)" });
    const button = (key, onClick) => {
      const label = say(key);
      const b = el("button", { font: "inherit", padding: "1px 8px", borderRadius: "4px", cursor: "pointer", color: "inherit",
        background: "var(--comfy-input-bg, #222)", border: "1px solid var(--border-color, #444)" }, label);
      [b.type, b.dataset.sdeDrag] = ["button", key];
      b.addEventListener("pointerdown", (e) => e.stopPropagation());
      b.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
      return b;
    };
    this.status = el("span", { flex: "1", textAlign: "right", opacity: "0.8", whiteSpace: "nowrap", overflow: "hidden" });
    this.canvas.addEventListener("pointerenter", () => this.refresh()); // an upload may have landed since the last event
    bar.append(button("undo", () => this.undo()), button("clear", () => this.edit(() => { this.model.pairs = []; this.pending = null; })), this.status);
    this.root.append(this.canvas, bar);
    const handlers = { pointerdown: this.onDown, pointermove: this.onMove, pointerup: this.onUp, pointercancel: this.onUp,
      contextmenu: (e) => { e.preventDefault(); e.stopPropagation(); } };
    for (const [type, fn] of Object.entries(handlers)) this.canvas.addEventListener(type, fn.bind(this));
  }

  /** Re-read the widget text when something else changed it (load, paste, the graph's own undo). */
  sync() {
    if (this.store.value === this.seen) return false;
    this.seen = this.store.value;
    [this.model, this.pending] = [parsePoints(this.seen), null];
    if (this.model.error) this.model.raw = this.seen; // kept until an edit replaces it, and back on Undo
    this.fitModelToImage();
    return true;
  }

  /** Re-read the upstream image choice and the widget text; redraw when either changed. */
  refresh() {
    this.attach();
    const { url, hint, watch } = upstreamImage(this.node);
    watch.forEach(follow);
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

  /** What the frame says: why the node would refuse the text, or why there is no picture (never an empty frame). */
  message() {
    if (this.model.error) return say("refused", this.model.error);
    if (this.img) return "";
    if (this.url && this.failed) return say("notLoaded");
    if (this.url) return say("loading");
    return this.hint || say("connect");
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

  frame() { return frameOf(this.canvas, this.model.width, this.model.height); }

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
  edit(change) { this.remember(); this.model.error = null; change(); this.commit(); }

  undo() {
    const last = this.undoStack.pop();
    if (last) [this.model, this.pending] = JSON.parse(last);
    if (last) this.commit();
  }

  /** Write the pairs (image pixels, to 0.1 px) into the node's `points` widget (a refused text: as it was) and redraw. */
  commit() {
    const round = (p) => p.map((v) => Math.round(v * 10) / 10);
    const { pairs, width, height, error, raw } = this.model;
    this.seen = error ? raw : JSON.stringify({ points: pairs.map(([s, t]) => [round(s), round(t)]), ...(width && { width, height }) });
    this.store.value = this.seen;
    this.node.setDirtyCanvas?.(true, true);
    app.graph?.change?.();
    this.draw();
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1, { pairs, width, height } = this.model;
    const w = Math.max(1, Math.round(c.clientWidth * dpr)), h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) [c.width, c.height] = [w, h];
    this.status.textContent = `${say("pairs", pairs.length, !!this.pending)} · ${width ? `${width}×${height} px` : say("noImage")}`;
    c.dataset.message = this.message();
    paint(c, { frame: this.frame(), img: this.img, pairs, pending: this.pending, words: c.dataset.message, dpr });
  }
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
    for (const hook of ["onAdded", "onConfigure", "onConnectionsChange"])
      chain(proto, hook, function () { this.sdeDrag?.refresh(); });
    chain(proto, "onExecuted", function (output) { this.sdeDrag?.onExecuted(output); });
    chain(proto, "onRemoved", function () { this.sdeDrag?.release(); });
  },
  setup() { for (const type of ["graphChanged", "executed"]) api.addEventListener(type, refreshAll); },
  afterConfigureGraph: refreshAll,
});
