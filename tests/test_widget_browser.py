"""The point widget in a real browser on a real server, on every frontend users have:
1.32.9 (what the pinned host serves), 1.58.1 with the LiteGraph canvas, 1.58.1 with Vue nodes."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from browser_server import ComfyServer, frontend_new_root, open_page, png_bytes

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOCS_SHOT = Path(__file__).resolve().parents[1] / "docs" / "widget.png"
IMAGE_W, IMAGE_H = 96, 64
IMAGE_NAME = "sde_drag_widget_test.png"
# Where the test clicks, in image pixels: two pairs (source, target).
CLICKS = [((20.0, 15.0), (50.0, 30.0)), ((70.0, 50.0), (40.0, 10.0))]
XSS = "<img src=x onerror=window.__xss=1>"
FRONTENDS = ["1.32.9", "1.58.1-classic", "1.58.1-vue"]


@pytest.fixture(scope="module", params=FRONTENDS)
def page(request, browser):
    """One server per frontend, one page on it; the page starts from an empty graph."""
    frontend = request.param
    root = None
    if frontend.startswith("1.58.1"):
        root = frontend_new_root()
        assert root, "the 1.58.1 frontend is missing: run scripts/provision.sh --browser"
    with ComfyServer(front_end_root=root, settings={"Comfy.VueNodes.Enabled": frontend.endswith("vue")}) as server:
        (server.input_dir / IMAGE_NAME).write_bytes(png_bytes(IMAGE_W, IMAGE_H))
        pg = open_page(browser, server)
        version = pg.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__")
        assert version == frontend.split("-")[0]
        pg.wait_for_function("() => app.extensions.some(e => e.name === 'SDEDrag.PointWidget')")
        pg.server, pg.frontend = server, frontend
        yield pg
        pg.context.close()


BUILD = """([imageName]) => {
  app.graph.clear();
  const load = LiteGraph.createNode("LoadImage"), drag = LiteGraph.createNode("SDEDragPoints"),
        show = LiteGraph.createNode("PreviewAny");
  load.pos = [90, 90]; drag.pos = [420, 90]; show.pos = [880, 90];
  for (const n of [load, drag, show]) app.graph.add(n);
  drag.setSize([340, 380]);
  load.widgets.find(w => w.name === "image").value = imageName;
  load.connect(0, drag, drag.findInputSlot("image"));
  drag.connect(0, show, 0);
  app.canvas.ds.offset = [0, 0]; app.canvas.ds.scale = 1;
  app.graph.setDirtyCanvas(true, true);
  return drag.id;
}"""

STATE = """() => {
  const n = app.graph._nodes.find(n => n.type === "SDEDragPoints");
  const e = n.sdeDrag;
  return {id: n.id, value: n.widgets.find(w => w.name === "points").value, status: e.status.textContent,
          url: e.url, loaded: !!e.img, pairs: e.model.pairs.length};
}"""


def widget_canvas(page):
    loc = page.locator("canvas[data-sde-drag=canvas]")
    loc.wait_for(state="visible")
    return loc


def image_rect(page):
    """Where the test expects the image on screen: contained in the canvas box, centred."""
    box = widget_canvas(page).bounding_box()
    s = min(box["width"] / IMAGE_W, box["height"] / IMAGE_H)
    return box["x"] + (box["width"] - IMAGE_W * s) / 2, box["y"] + (box["height"] - IMAGE_H * s) / 2, s


def to_screen(page, point):
    x0, y0, s = image_rect(page)
    return x0 + point[0] * s, y0 + point[1] * s


def wait_for_image(page, kind="input"):
    page.wait_for_function(f"""() => {{ const e = app.graph._nodes.find(n => n.type === "SDEDragPoints")?.sdeDrag;
        return e && e.img && e.url.includes("type={kind}") && e.status.textContent.includes("{IMAGE_W}×{IMAGE_H}"); }}""")
    page.wait_for_timeout(100)


def assert_pairs_near(value: str, expected, tol=1.0):
    data = json.loads(value)
    assert (data["width"], data["height"]) == (IMAGE_W, IMAGE_H)
    assert len(data["points"]) == len(expected)
    for got, want in zip(data["points"], expected):
        for (gx, gy), (wx, wy) in zip(got, want):
            assert abs(gx - wx) <= tol and abs(gy - wy) <= tol, (got, want)


def drawn_color(page, point):
    """The widget canvas pixel at an image point (read from the canvas itself)."""
    return page.evaluate("""([px, py]) => {
      const e = app.graph._nodes.find(n => n.type === "SDEDragPoints").sdeDrag, f = e.frame();
      const d = e.canvas.getContext("2d").getImageData(Math.round(f.x + px * f.s), Math.round(f.y + py * f.s), 1, 1).data;
      return [d[0], d[1], d[2]];
    }""", list(point))


def node_screenshot(page, node_id, path: Path):
    clip = page.evaluate("""(id) => {
      const dom = document.querySelector(`[data-node-id="${id}"]`);
      if (dom) { const r = dom.getBoundingClientRect(); return {x: r.left, y: r.top, width: r.width, height: r.height}; }
      const n = app.graph.getNodeById(id), ds = app.canvas.ds, r = app.canvas.canvas.getBoundingClientRect();
      const title = LiteGraph.NODE_TITLE_HEIGHT;
      return {x: r.left + (n.pos[0] + ds.offset[0]) * ds.scale, y: r.top + (n.pos[1] - title + ds.offset[1]) * ds.scale,
              width: n.size[0] * ds.scale, height: (n.size[1] + title) * ds.scale};
    }""", node_id)
    pad = 8
    clip = {"x": max(0, clip["x"] - pad), "y": max(0, clip["y"] - pad),
            "width": clip["width"] + 2 * pad, "height": clip["height"] + 2 * pad}
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), clip=clip)


def test_clicked_pairs_are_stored_in_image_pixels_survive_a_reload_and_reach_the_backend(page):
    page.evaluate(BUILD, [IMAGE_NAME])
    wait_for_image(page, "input")  # the upstream Load Image's picture, before any run
    for source, target in CLICKS:
        for point in (source, target):
            page.mouse.click(*to_screen(page, point))
    state = page.evaluate(STATE)
    assert_pairs_near(state["value"], CLICKS)
    assert state["status"].startswith("2 pairs")

    # Drag the first target somewhere else; shift-click near the second pair deletes it; undo brings it back.
    moved = (60.0, 40.0)
    page.mouse.move(*to_screen(page, CLICKS[0][1]))
    page.mouse.down()
    page.mouse.move(*to_screen(page, (55.0, 35.0)))
    page.mouse.move(*to_screen(page, moved))
    page.mouse.up()
    expected = [(CLICKS[0][0], moved), CLICKS[1]]
    assert_pairs_near(page.evaluate(STATE)["value"], expected)
    page.keyboard.down("Shift")
    page.mouse.click(*to_screen(page, (68.0, 49.0)))
    page.keyboard.up("Shift")
    assert_pairs_near(page.evaluate(STATE)["value"], expected[:1])
    page.locator("button[data-sde-drag=undo]").click()
    assert_pairs_near(page.evaluate(STATE)["value"], expected)

    # A resized node keeps the points in image pixels and still maps clicks right.
    page.evaluate("""() => { const n = app.graph._nodes.find(n => n.type === "SDEDragPoints");
                             n.setSize([420, 460]); app.graph.setDirtyCanvas(true, true); }""")
    page.wait_for_timeout(300)
    assert_pairs_near(page.evaluate(STATE)["value"], expected)
    assert drawn_color(page, expected[0][0])[0] > 200  # the red source dot, at its new screen place

    # Save (to JSON text) and reload the workflow: the points are still in the widget and drawn.
    saved = page.evaluate("() => JSON.stringify(app.graph.serialize())")
    page.evaluate("() => app.graph.clear()")
    page.evaluate("(wf) => app.loadGraphData(JSON.parse(wf))", saved)
    wait_for_image(page, "input")
    state = page.evaluate(STATE)
    assert_pairs_near(state["value"], expected)
    assert state["pairs"] == 2
    for source, target in expected:
        r, g, b = drawn_color(page, source)
        assert r > 200 and g < 120, (r, g, b)  # red source dot
        r, g, b = drawn_color(page, target)
        assert b > 200 and r < 120, (r, g, b)  # blue target dot

    # Copy/paste of the node carries the points; removing the copy leaves the original alone.
    pasted = page.evaluate("""() => {
      const n = app.graph._nodes.find(n => n.type === "SDEDragPoints");
      app.canvas.copyToClipboard([n]);
      app.canvas.pasteFromClipboard({position: [n.pos[0] + 40, n.pos[1] + 500]});
      const copy = app.graph._nodes.filter(m => m.type === "SDEDragPoints").find(m => m !== n);
      const out = {value: copy.widgets.find(w => w.name === "points").value, pairs: copy.sdeDrag.model.pairs.length};
      app.graph.remove(copy);
      return out;
    }""")
    assert_pairs_near(pasted["value"], expected)
    assert pasted["pairs"] == 2
    page.wait_for_function("() => app.graph._nodes.filter(n => n.type === 'SDEDragPoints').length === 1")

    # Queue it: the prompt carries the points; the backend parses them and sends the image back.
    node_id = state["id"]
    with page.expect_request(lambda r: r.url.endswith("/prompt") and r.method == "POST") as req:
        page.evaluate("() => app.queuePrompt(0, 1)")
    body = req.value.post_data_json
    sent = body["prompt"][str(node_id)]["inputs"]["points"]
    assert_pairs_near(sent, expected)
    prompt_id = req.value.response().json()["prompt_id"]
    history = wait_for_history(page.server, prompt_id)
    outputs = history["outputs"]
    assert outputs[str(node_id)]["sde_drag_image"][0]["type"] == "temp"
    preview = next(o["text"][0] for k, o in outputs.items() if k != str(node_id))
    assert "DragPoints(pairs=" in preview and "width=96, height=64" in preview
    wait_for_image(page, "temp")  # after the run the widget shows the image that reached the node

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"widget-{page.frontend}.png"
    node_screenshot(page, node_id, shot)
    if page.frontend == "1.58.1-classic":
        shutil.copyfile(shot, ARTIFACTS / "widget.png")
        DOCS_SHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SHOT)
    errors = [m for m in page.console_messages if "pageerror" in m and "SDE" in m]
    assert not errors, errors


def wait_for_history(server, prompt_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = server.get_json(f"/history/{prompt_id}").get(prompt_id)
        if entry and entry.get("status", {}).get("completed"):
            return entry
        if entry and entry.get("status", {}).get("status_str") == "error":
            raise AssertionError(f"the prompt failed: {entry['status']}")
        time.sleep(0.2)
    raise AssertionError(f"no result for prompt {prompt_id} within {timeout} s:\n{server.log_tail()}")


def test_a_workflow_with_html_in_its_title_and_points_loads_as_plain_text(page):
    points = json.dumps({"points": [[[5, 6], [30, 20]]], "width": IMAGE_W, "height": IMAGE_H, "note": XSS})
    def node(node_id, x, value):
        return {"id": node_id, "type": "SDEDragPoints", "title": XSS, "pos": [x, 100], "size": [320, 360],
                "flags": {}, "order": node_id - 1, "mode": 0, "inputs": [{"name": "image", "type": "IMAGE", "link": None}],
                "outputs": [{"name": "drag_points", "type": "DRAG_POINTS", "links": []}],
                "properties": {}, "widgets_values": [value]}

    workflow = {"last_node_id": 2, "last_link_id": 0, "version": 0.4, "links": [], "groups": [], "config": {},
                "extra": {}, "nodes": [node(1, 100, points), node(2, 460, XSS)]}
    page.evaluate("(wf) => app.loadGraphData(wf)", workflow)
    page.wait_for_function("() => app.graph._nodes.filter(n => n.type === 'SDEDragPoints' && n.sdeDrag).length === 2")
    page.wait_for_timeout(800)
    statuses = page.evaluate("() => app.graph._nodes.map(n => [n.title, n.sdeDrag.status.textContent])")
    assert statuses == [[XSS, "1 pair · 96×64 px"], [XSS, "0 pairs · no image"]]
    page.screenshot(path=str(ARTIFACTS / f"xss-{page.frontend}.png"))
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src=x]").count() == 0


# Counts, from inside the page, the timers and ResizeObservers that the pack's scripts start and have not let
# go, the timeouts and animation frames they ask for (a polling loop re-arms one of them), and the frontend's
# graphChanged events (what a user's edit fires). Installed once per page.
COUNT_RESOURCES = """async () => {
  if (window.__sdeLive) return;
  const live = window.__sdeLive = {intervals: new Set(), observers: new Set(), graphChanged: 0, scheduled: 0};
  const ours = () => /\\/extensions\\/ComfyUI-SDE-Drag\\//.test(new Error().stack);
  const [setInterval0, clearInterval0] = [window.setInterval, window.clearInterval];
  window.setInterval = function (...args) { const id = setInterval0.apply(this, args); if (ours()) live.intervals.add(id); return id; };
  window.clearInterval = function (id) { live.intervals.delete(id); return clearInterval0.call(this, id); };
  for (const name of ["setTimeout", "requestAnimationFrame"]) {
    const original = window[name];
    window[name] = function (...args) { if (ours()) live.scheduled++; return original.apply(this, args); };
  }
  window.ResizeObserver = class extends window.ResizeObserver {
    observe(...args) { if (ours()) live.observers.add(this); return super.observe(...args); }
    disconnect() { live.observers.delete(this); return super.disconnect(); }
  };
  const { api } = await import("/scripts/api.js");
  api.addEventListener("graphChanged", () => live.graphChanged++);
}"""
LIVE = """() => ({intervals: window.__sdeLive.intervals.size, observers: window.__sdeLive.observers.size,
               graphChanged: window.__sdeLive.graphChanged, scheduled: window.__sdeLive.scheduled})"""


def press_on_canvas(page, key):
    """A key pressed as a user does, with the graph canvas focused (the frontend's change tracker sees it)."""
    page.evaluate("() => (app.canvas.canvas.focus?.(), undefined)")
    page.keyboard.press(key)
    page.wait_for_timeout(300)


def test_the_editor_runs_no_timer_and_lets_go_of_its_observer_when_its_subgraph_is_deleted(page):
    """Issue 25.6: the 300 ms timer and the ResizeObserver were released only in onRemoved, which 1.32.9 does
    not call for the nodes inside a subgraph when the subgraph node is deleted."""
    page.evaluate(COUNT_RESOURCES)
    page.evaluate(BUILD, [IMAGE_NAME])
    wait_for_image(page, "input")
    for point in CLICKS[0]:
        page.mouse.click(*to_screen(page, point))
    live = page.evaluate(LIVE)
    assert live["intervals"] == 0, f"the editor polls: {live}"
    assert live["observers"] == 1, live

    # Into a subgraph: the node inside is a new node with its own editor, the points travel with it.
    inner = page.evaluate("""() => {
      const drag = app.graph._nodes.find(n => n.type === "SDEDragPoints");
      window.__sdeSub = app.graph.convertToSubgraph(new Set([drag])).node;
      const inner = window.__sdeInner = window.__sdeSub.subgraph._nodes.find(n => n.type === "SDEDragPoints");
      app.canvas.deselectAll?.(); app.canvas.selectNode(window.__sdeSub); app.graph.setDirtyCanvas(true, true);
      return {value: inner.widgets.find(w => w.name === "points").value, pairs: inner.sdeDrag.model.pairs.length,
              outer: drag.graph ? "still in the graph" : "removed"};
    }""")
    assert inner["outer"] == "removed" and inner["pairs"] == 1, inner
    assert_pairs_near(inner["value"], CLICKS[:1])
    # A graph event while the subgraph node stands (the user drags it by its title) keeps the editor inside alive.
    before = page.evaluate(LIVE)["graphChanged"]
    x, y = page.evaluate("""() => { const n = window.__sdeSub, dom = document.querySelector(`[data-node-id="${n.id}"]`);
      if (dom) { const r = dom.getBoundingClientRect(); return [r.left + 30, r.top + 12]; }
      const ds = app.canvas.ds, r = app.canvas.canvas.getBoundingClientRect();
      return [r.left + (n.pos[0] + 30 + ds.offset[0]) * ds.scale, r.top + (n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT / 2 + ds.offset[1]) * ds.scale];
    }""")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20, y + 10)
    page.mouse.move(x + 40, y + 20)
    page.mouse.up()
    page.wait_for_timeout(300)
    live = page.evaluate(LIVE)
    assert live["graphChanged"] > before, "the frontend fired no graphChanged: the test did not exercise the path"
    assert live["observers"] == 1 and live["intervals"] == 0, live

    # The user deletes the subgraph node: nothing of the editor inside it stays running.
    press_on_canvas(page, "Delete")
    page.wait_for_function("() => !app.graph._nodes.some(n => n === window.__sdeSub)")
    page.wait_for_function("() => window.__sdeLive.observers.size === 0", timeout=5_000)
    live = page.evaluate(LIVE)
    assert live == {**live, "intervals": 0, "observers": 0}, live
    assert page.evaluate("() => window.__sdeInner.sdeDrag.attached") is False
    page.evaluate("() => { delete window.__sdeSub; delete window.__sdeInner; }")


def load_with_points(page, text):
    """The test graph saved with `text` in the points widget and loaded again, as a shared workflow would be."""
    page.evaluate(BUILD, [IMAGE_NAME])
    saved = page.evaluate("""(text) => { const n = app.graph._nodes.find(n => n.type === "SDEDragPoints");
      n.widgets.find(w => w.name === "points").value = text; return JSON.stringify(app.graph.serialize()); }""", text)
    page.evaluate("() => app.graph.clear()")
    page.evaluate("(wf) => app.loadGraphData(JSON.parse(wf))", saved)
    wait_for_image(page, "input")


def test_points_written_as_x_y_objects_are_shown_and_kept_when_the_user_adds_a_pair(page):
    """Issue 25.5: the server reads {"x", "y"} points; the editor showed none of them and the next click erased them."""
    source, target = CLICKS[0]
    text = json.dumps({"points": [[{"x": source[0], "y": source[1]}, {"x": target[0], "y": target[1]}]],
                       "width": IMAGE_W, "height": IMAGE_H})
    load_with_points(page, text)
    state = page.evaluate(STATE)
    assert state["status"] == f"1 pair · {IMAGE_W}×{IMAGE_H} px", state
    assert state["value"] == text  # shown, not rewritten
    r, g, b = drawn_color(page, source)
    assert r > 200 and g < 120, (r, g, b)  # its red source dot
    for point in CLICKS[1]:
        page.mouse.click(*to_screen(page, point))
    assert_pairs_near(page.evaluate(STATE)["value"], CLICKS)


def test_a_text_the_server_would_refuse_is_named_kept_until_an_edit_and_back_on_undo(page):
    text = "20,15 -> 50,30\n70,50 -> forty,10"  # the server refuses the whole text: it runs no half of it
    load_with_points(page, text)
    state = page.evaluate(STATE)
    message = page.evaluate("() => app.graph._nodes.find(n => n.type === 'SDEDragPoints').sdeDrag.canvas.dataset.message")
    assert message.startswith("drag_points: cannot read '70,50 -> forty,10'") and "Undo" in message, message
    assert state["value"] == text and state["status"].startswith("0 pairs"), state
    for point in CLICKS[0]:
        page.mouse.click(*to_screen(page, point))
    assert_pairs_near(page.evaluate(STATE)["value"], CLICKS[:1])
    for _ in range(2):
        page.locator("button[data-sde-drag=undo]").click()
    assert page.evaluate(STATE)["value"] == text


def test_the_editor_follows_another_picture_chosen_upstream_with_no_timer(page):
    """The editor learns of a new upstream choice from events (the Load Image widget's callback, the
    graphChanged of the user's next click), not from polling; points picked on the former picture are
    scaled to the new one."""
    small = "sde_drag_widget_small.png"
    (page.server.input_dir / small).write_bytes(png_bytes(IMAGE_W // 2, IMAGE_H // 2))
    load_with_points(page, json.dumps({"points": [[[20, 15], [50, 30]]], "width": IMAGE_W, "height": IMAGE_H}))
    page.evaluate(COUNT_RESOURCES)
    page.evaluate("""(name) => { const w = app.graph._nodes.find(n => n.type === "LoadImage").widgets.find(w => w.name === "image");
                                 w.value = name; w.callback?.(name); }""", small)  # as an upload or a pick in the list does
    page.mouse.click(300, 650)  # the user's next click, on the empty canvas
    page.wait_for_function(f"() => app.graph._nodes.find(n => n.type === 'SDEDragPoints').sdeDrag.status.textContent"
                           f".endsWith('{IMAGE_W // 2}×{IMAGE_H // 2} px')", timeout=5_000)
    editor = page.evaluate("() => app.graph._nodes.find(n => n.type === 'SDEDragPoints').sdeDrag.model.pairs")
    assert editor == [[[10, 7.5], [25, 15]]], editor
    assert page.evaluate(LIVE)["intervals"] == 0


def test_loading_another_workflow_lets_go_of_an_editor_inside_a_subgraph(page):
    page.evaluate(COUNT_RESOURCES)
    page.evaluate(BUILD, [IMAGE_NAME])
    wait_for_image(page, "input")
    page.evaluate("""() => { const drag = app.graph._nodes.find(n => n.type === "SDEDragPoints");
                             app.graph.convertToSubgraph(new Set([drag])); }""")
    page.evaluate("(wf) => app.loadGraphData(wf)", {"last_node_id": 0, "last_link_id": 0, "nodes": [], "links": [],
                                                    "groups": [], "config": {}, "extra": {}, "version": 0.4})
    page.wait_for_function("() => app.graph._nodes.length === 0")
    page.wait_for_function("() => window.__sdeLive.observers.size === 0", timeout=5_000)
    assert page.evaluate(LIVE)["intervals"] == 0


# Counts the editor's own work (re-reading its node, redrawing) until `() => window.__sdeWork.restore()`.
COUNT_WORK = """() => {
  const proto = Object.getPrototypeOf(app.graph._nodes.find(n => n.type === "SDEDragPoints").sdeDrag);
  const work = window.__sdeWork = {refresh: 0, sync: 0, draw: 0};
  const originals = Object.keys(work).map((name) => [name, proto[name]]);
  for (const [name, fn] of originals) proto[name] = function (...args) { work[name]++; return fn.apply(this, args); };
  Object.defineProperty(work, "restore", {value: () => { for (const [name, fn] of originals) proto[name] = fn; }});
}"""


def test_an_idle_editor_polls_nothing_while_the_frontend_redraws_and_the_pointer_moves(page):
    """No timer, no animation-frame loop and no re-reading on each canvas frame: an editor left alone does
    nothing at all, however often the frontend draws the graph."""
    page.evaluate(COUNT_RESOURCES)
    page.evaluate(BUILD, [IMAGE_NAME])
    wait_for_image(page, "input")
    before = page.evaluate(LIVE)
    page.evaluate(COUNT_WORK)
    try:
        for step in range(10):  # over the empty graph canvas, as a user on the way elsewhere
            page.mouse.move(250 + 20 * step, 650)
            page.evaluate("() => { app.graph.setDirtyCanvas(true, true); app.canvas.draw(true, true); }")
        page.wait_for_timeout(1200)  # four times the former polling period
        work = page.evaluate("() => ({...window.__sdeWork})")
    finally:
        page.evaluate("() => window.__sdeWork.restore()")
    assert work == {"refresh": 0, "sync": 0, "draw": 0}, work
    assert page.evaluate(LIVE)["scheduled"] == before["scheduled"], "the editor asked for a timeout or a frame"
    assert page.evaluate(LIVE)["intervals"] == 0


def test_a_value_set_through_the_widget_api_is_drawn_at_once(page):
    """Another extension, a side panel or a script writes the points widget: the editor shows the new
    text in the same task (no timer, no frame to wait for) and leaves the text as written."""
    page.evaluate(BUILD, [IMAGE_NAME])
    wait_for_image(page, "input")
    source, target = CLICKS[0]
    text = json.dumps({"points": [[list(source), list(target)]], "width": IMAGE_W, "height": IMAGE_H})
    refused = "1,2 -> three,4"
    seen = page.evaluate("""([texts, source]) => {
      const n = app.graph._nodes.find(n => n.type === "SDEDragPoints"), e = n.sdeDrag;
      const w = n.widgets.find(w => w.name === "points");
      const pixel = () => { const f = e.frame();
        return [...e.canvas.getContext("2d").getImageData(Math.round(f.x + source[0] * f.s), Math.round(f.y + source[1] * f.s), 1, 1).data.slice(0, 3)]; };
      const out = [{pixel: pixel(), status: e.status.textContent}];
      for (const text of texts) {
        w.value = text;  // read back in the same task: nothing may wait for later
        out.push({pixel: pixel(), status: e.status.textContent, message: e.canvas.dataset.message, value: w.value});
      }
      return out;
    }""", [[text, refused, ""], list(source)])
    start, shown, refusal, cleared = seen
    assert start["status"] == f"0 pairs · {IMAGE_W}×{IMAGE_H} px" and start["pixel"][0] < 150, start
    assert shown["status"] == f"1 pair · {IMAGE_W}×{IMAGE_H} px" and shown["value"] == text, shown
    r, g, b = shown["pixel"]
    assert r > 200 and g < 120 and b < 120, shown  # the red source dot, drawn already
    assert refusal["message"].startswith("drag_points: cannot read '1,2 -> three,4'"), refusal
    assert refusal["status"].startswith("0 pairs") and refusal["value"] == refused, refusal
    assert cleared["status"] == f"0 pairs · {IMAGE_W}×{IMAGE_H} px" and cleared["message"] == "", cleared
    assert cleared["pixel"] == start["pixel"], (start, cleared)


# Load Image -> Reroute -> Drag Points, built by script (no user event reaches the frontend).
BUILD_REROUTED = """([imageName]) => {
  app.graph.clear();
  const load = LiteGraph.createNode("LoadImage"), reroute = LiteGraph.createNode("Reroute"),
        drag = LiteGraph.createNode("SDEDragPoints");
  load.pos = [60, 90]; reroute.pos = [400, 120]; drag.pos = [520, 90];
  for (const n of [load, reroute, drag]) app.graph.add(n);
  drag.setSize([340, 380]);
  load.widgets.find(w => w.name === "image").value = imageName;
  load.connect(0, reroute, 0);
  reroute.connect(0, drag, drag.findInputSlot("image"));
  Object.assign(window, {__sdeLoad: load, __sdeReroute: reroute});
}"""


def test_the_editor_follows_an_upstream_change_in_the_same_task_with_no_user_event(page):
    """A new pick in Load Image (its widget's callback, as an upload or the list calls it) and a Reroute
    relinked by script reach the editor at once; the editor does not wait for a click or a canvas frame."""
    small = "sde_drag_widget_small.png"
    (page.server.input_dir / small).write_bytes(png_bytes(IMAGE_W // 2, IMAGE_H // 2))
    page.evaluate(BUILD_REROUTED, [IMAGE_NAME])
    wait_for_image(page, "input")
    editor = "app.graph._nodes.find(n => n.type === 'SDEDragPoints').sdeDrag"
    url = page.evaluate(f"""(name) => {{ const w = window.__sdeLoad.widgets.find(w => w.name === "image");
                                         w.value = name; w.callback?.(name); return {editor}.url; }}""", small)
    assert "filename=" + small in url, url
    page.wait_for_function(f"() => {editor}.status.textContent.endsWith('{IMAGE_W // 2}×{IMAGE_H // 2} px')", timeout=5_000)

    url = page.evaluate(f"""(name) => {{ const other = LiteGraph.createNode("LoadImage");
      other.pos = [60, 500]; app.graph.add(other); other.widgets.find(w => w.name === "image").value = name;
      other.connect(0, window.__sdeReroute, 0); return {editor}.url; }}""", IMAGE_NAME)
    assert "filename=" + IMAGE_NAME in url, url
    wait_for_image(page, "input")

    # Unlinked: the editor knows at once (it keeps showing the last picture, with the points on it).
    hint = page.evaluate(f"() => {{ window.__sdeReroute.disconnectInput(0); return {editor}.canvas.dataset.hint; }}")
    assert hint.startswith("Connect a Load Image"), hint
    page.evaluate("() => { delete window.__sdeLoad; delete window.__sdeReroute; }")


def test_the_editor_reads_with_the_served_parser_which_is_the_tested_file(page):
    """tests/test_points_format_browser.py holds web/points_format.js to the server's reading; this holds the
    page to that file: the server serves it unchanged and the editor reads each text as that module does."""
    shipped = (Path(__file__).resolve().parents[1] / "web" / "points_format.js").read_text(encoding="utf-8")
    page.evaluate(BUILD, [IMAGE_NAME])
    wait_for_image(page, "input")
    texts = ["size 96 x 64\n20,15 -> 50,30\n(70,50) to (40,10)",
             '{"points": [[{"x": 20, "y": 15}, [50, 30.25]]], "width": 96, "height": 64}',
             "size \u0669\u0666 x \u0666\u0664\n\u0661,\u0662 -> \u0663,\u0664",
             "20,15 -> 50,30\n70,50 -> forty,10", '{"points": [[[NaN, 2], [3, 4]]]}']
    got = page.evaluate("""async (texts) => {
      const module = "/extensions/ComfyUI-SDE-Drag/points_format.js";
      const served = await (await fetch(module)).text(), { parsePoints } = await import(module);
      const n = app.graph._nodes.find(n => n.type === "SDEDragPoints"), w = n.widgets.find(w => w.name === "points");
      // A refused text keeps no size of its own: the editor shows the picture's.
      const reading = (m) => JSON.stringify(m.error ? [m.pairs, m.error] : [m.pairs, m.width, m.height]);
      const out = texts.map((text) => { w.value = text; return [reading(n.sdeDrag.model), reading(parsePoints(text))]; });
      return {served, out};
    }""", texts)
    assert got["served"] == shipped
    for text, (editor, module) in zip(texts, got["out"]):
        assert editor == module, (text, editor, module)
    assert sum('"drag_points: ' in editor for editor, _ in got["out"]) == 2, got["out"]
