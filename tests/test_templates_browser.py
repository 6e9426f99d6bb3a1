"""The shipped templates in a real browser on a real server, on the three frontends users have (1.32.9,
1.58.1 classic, 1.58.1 Vue nodes): the point editor shows its picture before any run whatever usual source
feeds it, and every template opens with no node over another, every widget inside its node, and (for the
demo templates, run with their steps lowered) no output preview over another node after a run.
Screenshots: tests/artifacts/templates/<frontend>/<template>.png (and -after-run.png)."""
from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

import pytest

from browser_server import NODE_BOXES, frontend_server, open_page, png_bytes

REPO = Path(__file__).resolve().parents[1]
from build_workflows import DEMO_WORKFLOWS, WORKFLOWS

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "templates"
FRONTENDS = ["1.32.9", "1.58.1-classic", "1.58.1-vue"]
IMAGE_NAME, IMAGE_W, IMAGE_H = "sde_drag_editor_test.png", 96, 64
VIEWPORT = (1920, 1080)
# What the test lowers before running a demo template in the browser (layout is what is tested, not results).
FAST = {"steps": 4, "noises": 2}


@pytest.fixture(scope="module", params=FRONTENDS)
def page(request, browser):
    with frontend_server(request.param) as server:
        (server.input_dir / IMAGE_NAME).write_bytes(png_bytes(IMAGE_W, IMAGE_H))
        pg = open_page(browser, server, viewport=VIEWPORT)
        assert pg.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__") == request.param.split("-")[0]
        pg.wait_for_function("() => app.extensions.some(e => e.name === 'SDEDrag.PointWidget')")
        pg.server, pg.frontend = server, request.param
        yield pg
        pg.context.close()


# Builds `source -> (Reroute ->)* Drag Points`; returns nothing. source: a node type and its widget values.
BUILD = """([type, values, reroutes]) => {
  app.clean?.(); // forgets earlier nodes' previews, which the frontend keys by node id
  app.graph.clear();
  const source = LiteGraph.createNode(type), points = LiteGraph.createNode("SDEDragPoints");
  source.pos = [60, 80]; app.graph.add(source);
  for (const [name, value] of Object.entries(values)) source.widgets.find(w => w.name === name).value = value;
  let [from, slot] = [source, 0];
  for (let i = 0; i < reroutes; i++) {
    const r = LiteGraph.createNode("Reroute"); r.pos = [420 + 90 * i, 120]; app.graph.add(r);
    from.connect(slot, r, 0); [from, slot] = [r, 0];
  }
  points.pos = [460 + 90 * reroutes, 80]; app.graph.add(points); points.setSize([360, 400]);
  from.connect(slot, points, points.findInputSlot("image"));
  app.canvas.ds.offset = [0, 0]; app.canvas.ds.scale = 1; app.graph.setDirtyCanvas(true, true);
  window.__sdePoints = points;
}"""
EDITOR = """() => { const e = window.__sdePoints.sdeDrag;
  return {url: e.url || "", loaded: !!(e.img && e.img.naturalWidth), message: e.canvas.dataset.message || "",
          status: e.status.textContent}; }"""
PIXEL = """([px, py]) => { const e = window.__sdePoints.sdeDrag, f = e.frame();
  const d = e.canvas.getContext("2d").getImageData(Math.round(f.x + px * f.s), Math.round(f.y + py * f.s), 1, 1).data;
  return [d[0], d[1], d[2]]; }"""


def editor_after(page, build_args):
    page.evaluate(BUILD, build_args)
    page.wait_for_function("() => { const e = window.__sdePoints?.sdeDrag;"
                           " return e && ((e.img && e.img.naturalWidth) || e.canvas.dataset.message.startsWith('Run')); }",
                           timeout=15_000)
    page.wait_for_timeout(200)
    return page.evaluate(EDITOR)


@pytest.mark.parametrize("reroutes", [0, 2], ids=["direct", "through-two-reroutes"])
def test_the_point_editor_draws_a_load_image_picture_before_any_run(page, reroutes):
    state = editor_after(page, ["LoadImage", {"image": IMAGE_NAME}, reroutes])
    assert state["loaded"] and "/view?" in state["url"] and "type=input" in state["url"], state
    assert state["message"] == "" and state["status"].endswith(f"{IMAGE_W}×{IMAGE_H} px"), state
    r, g, b = page.evaluate(PIXEL, [80.5, 10.5])  # the test picture's gradient: red grows with x, green with y
    assert r > 180 and g < 90 and 60 < b < 120, (r, g, b)
    assert page.server.get_json("/history") == {}, "nothing ran"


@pytest.mark.parametrize("reroutes", [0, 1], ids=["direct", "through-a-reroute"])
def test_the_point_editor_draws_a_dragbench_case_picture_before_any_run(page, reroutes):
    state = editor_after(page, ["SDEDragLoadDragBenchCase", {"case": "red_disc_right"}, reroutes])
    assert state["loaded"] and "dragbench_case_image" in state["url"], state
    assert state["status"].endswith("64×64 px"), state
    r, g, b = page.evaluate(PIXEL, [22.5, 30.5])  # the case's red disc, at its source point
    assert r > 150 and g < 90 and b < 90, (r, g, b)
    r, g, b = page.evaluate(PIXEL, [4.5, 4.5])  # its light background
    assert min(r, g, b) > 120, (r, g, b)
    assert page.server.get_json("/history") == {}, "nothing ran"


def test_the_point_editor_says_in_words_where_an_unknown_picture_comes_from(page):
    state = editor_after(page, ["EmptyImage", {}, 1])
    assert not state["loaded"], state
    assert state["message"].startswith("Run once to see the image: the picture comes from "), state
    title = page.evaluate("() => app.graph._nodes.find(n => n.type === 'EmptyImage').title")
    assert state["message"].endswith(title), state
    page.evaluate("() => window.__sdePoints.disconnectInput(0)")
    page.wait_for_function("() => window.__sdePoints.sdeDrag"
                           ".canvas.dataset.message.startsWith('Connect')")
    # The words are drawn on the canvas: some light pixels on the dark background.
    light = page.evaluate("""() => { const c = window.__sdePoints.sdeDrag.canvas;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let k = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 3] > 0) k++; return k; }""")
    assert light > 20, light
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"editor-message-{page.frontend}.png"))


def test_the_case_picture_route_serves_listed_cases_only(page):
    import urllib.error
    import urllib.request

    base = f"{page.server.url}/api/sde_drag/dragbench_case_image?case="
    with urllib.request.urlopen(base + "red_disc_right", timeout=10) as r:
        assert r.status == 200 and r.read(8) == b"\x89PNG\r\n\x1a\n"
    for bad in ("../demo", "..", "", "/etc", "no_such_case"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + urllib.parse.quote(bad), timeout=10)
        assert refused.value.code == 404, bad
        text = refused.value.read().decode()
        # the reason, without the server's folders (a public server must not show its paths)
        assert text.startswith("case:") and str(REPO) not in text and "/input/" not in text, text


def test_the_server_lists_every_template_and_serves_its_thumbnail(page):
    import urllib.request

    listed = page.server.get_json("/workflow_templates")["ComfyUI-SDE-Drag"]
    assert sorted(listed) == sorted(WORKFLOWS)
    for name in WORKFLOWS:  # the address the template dialog builds: /api/workflow_templates/<pack>/<name>.jpg
        url = f"{page.server.url}/api/workflow_templates/ComfyUI-SDE-Drag/{urllib.parse.quote(name)}.jpg"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg", name
            assert r.read(3) == b"\xff\xd8\xff", name


def overlaps(boxes, margin=1.0):
    """Pairs of nodes whose drawn boxes intersect (by more than `margin` px both ways)."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > margin and dy > margin:
                out.append((a["title"], b["title"], round(dx), round(dy)))
    return out


def open_template(page, name):
    """Opens a template as the template browser does: fetched from the pack's route, loaded as a new workflow."""
    url = f"/api/workflow_templates/ComfyUI-SDE-Drag/{urllib.parse.quote(name)}.json"
    page.evaluate("""async ([url, name]) => { const wf = await (await fetch(url)).json();
                     await app.loadGraphData(wf, true, true, name); }""", [url, name])
    page.wait_for_timeout(800)
    size = page.evaluate("""() => { let [w, h] = [0, 0];
      for (const n of app.graph._nodes) { w = Math.max(w, n.pos[0] + n.size[0]); h = Math.max(h, n.pos[1] + n.size[1]); }
      return [w, h]; }""")
    scale = min(1.0, (VIEWPORT[0] - 120) / (size[0] + 40), (VIEWPORT[1] - 140) / (size[1] + 60))
    page.evaluate("""(scale) => { app.canvas.ds.scale = scale; app.canvas.ds.offset = [80 / scale, 90 / scale];
                     app.graph.setDirtyCanvas(true, true); app.canvas.draw?.(true, true); }""", scale)
    page.wait_for_timeout(1200)


def assert_readable(page, name, when):
    boxes = page.evaluate(NODE_BOXES)
    assert boxes, name
    hit = overlaps(boxes)
    assert not hit, f"{name} ({page.frontend}, {when}): nodes overlap (title, title, dx, dy): {hit}"
    for box in boxes:
        # A Vue node is as large as its content (its DOM box, used for the overlap check above, holds every slot
        # and widget); a canvas node is drawn at its stored size, which must hold what computeSize says it needs.
        if not box["dom"]:
            assert box["size"][0] >= box["need"][0] - 1 and box["size"][1] >= box["need"][1] - 1, \
                f"{name}: {box['title']} is {box['size']} but its slots and widgets need {box['need']}"


def run_in_browser(page, name):
    page.evaluate("""(fast) => { for (const n of app.graph._nodes) for (const w of n.widgets || [])
                       if (w.name in fast && typeof w.value === "number") w.value = Math.min(w.value, fast[w.name]); }""",
                  FAST)
    with page.expect_response(lambda r: r.url.endswith("/prompt") and r.request.method == "POST") as resp:
        page.evaluate("() => app.queuePrompt(0, 1)")
    prompt_id = resp.value.json()["prompt_id"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        entry = page.server.get_json(f"/history/{prompt_id}").get(prompt_id)
        if entry and entry.get("status", {}).get("completed"):
            break
        if entry and entry.get("status", {}).get("status_str") == "error":
            raise AssertionError(f"{name} failed in the browser: {entry['status']}")
        time.sleep(0.3)
    else:
        raise AssertionError(f"{name} did not finish:\n{page.server.log_tail()}")
    saves = [n for n, o in entry["outputs"].items() if o.get("images")]
    assert saves, name
    page.wait_for_function("""(ids) => ids.every(id => { const n = app.graph.getNodeById(Number(id)) || app.graph.getNodeById(id);
        const dom = document.querySelector(`[data-node-id="${id}"] img`);
        return dom || (n && n.imgs && n.imgs.length); })""", arg=saves, timeout=20_000)
    page.wait_for_timeout(1200)


@pytest.mark.parametrize("name", list(WORKFLOWS))
def test_a_template_opens_with_no_node_over_another_and_runs_with_no_preview_over_another(page, name):
    open_template(page, name)
    folder = ARTIFACTS / page.frontend
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))
    assert_readable(page, name, "as opened")
    notes = page.evaluate("() => app.graph._nodes.filter(n => n.type === 'MarkdownNote').length")
    # demo templates: one note; real-checkpoint ones: one more beside the picture, on its painted mask
    assert notes == (1 if name in DEMO_WORKFLOWS else 2), f"{name} explains itself in its notes"
    if name in DEMO_WORKFLOWS:
        run_in_browser(page, name)
        page.screenshot(path=str(folder / f"{name} - after run.png"))
        assert_readable(page, name, "after a run")


SIZE_UNITS = """() => app.graph._nodes.filter(n => ["SDEDragAllInOne", "SDEDragCopyPaste"].includes(n.type))
                  .map(n => [n.type, n.widgets.find(w => w.name === "size_unit").value])"""
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.parametrize("saved", ["saved_before_size_unit_sde_drag.json", "saved_before_v3_sde_drag_composable_nodes.json"])
def test_a_workflow_saved_before_size_unit_loads_in_latent_cells_and_sends_them(page, saved):
    """r and step_size of a workflow saved before the size_unit widget existed meant latent cells: the frontend
    migration (web/size_unit_migration.js) sets the widget so, and the prompt it sends says so."""
    workflow = json.loads((FIXTURES / saved).read_text())
    page.evaluate("async ([wf, name]) => { await app.loadGraphData(wf, true, true, name); }", [workflow, saved])
    page.wait_for_timeout(300)
    units = page.evaluate(SIZE_UNITS)
    assert units and all(unit == "latent cells" for _, unit in units), units
    output = page.evaluate("async () => (await app.graphToPrompt()).output")
    sent = [node["inputs"].get("size_unit") for node in output.values()
            if node["class_type"] in ("SDEDragAllInOne", "SDEDragCopyPaste")]
    assert sent == ["latent cells"] * len(units), sent


def test_a_new_drag_node_and_a_shipped_template_use_64ths_of_the_short_side(page):
    open_template(page, "01 Demo - SDE-Drag - click points on the picture")
    assert page.evaluate(SIZE_UNITS) == [["SDEDragAllInOne", "64ths of the short side"]]
    made = page.evaluate("""() => { app.graph.clear(); const n = LiteGraph.createNode("SDEDragAllInOne");
                            app.graph.add(n); return n.widgets.find(w => w.name === "size_unit").value; }""")
    assert made == "64ths of the short side"
