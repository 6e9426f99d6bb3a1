"""A real ComfyUI server with this pack, and Debian's Chromium, for browser tests.

`ComfyServer` starts `scripts/serve.sh` on a free 127.0.0.1 port with its own temporary
base directory (custom_nodes/ links this repository), optionally with another frontend
(`--front-end-root`), waits for `/system_stats`, seeds the user settings so no first-run
dialog opens, and stops the server with SIGTERM. `launch_chromium` starts /usr/bin/chromium
through Playwright's sync API; `open_page` opens the UI and waits until `window.app` is ready.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK_FOLDER = "ComfyUI-SDE-Drag"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# Settings a fresh user directory lacks: without them the frontend opens its first-run
# template browser (which Escape does not close) and asks about things.
QUIET_SETTINGS = {
    "Comfy.TutorialCompleted": True,
    "Comfy.VueNodes.Enabled": False,
    "Comfy.Validation.Workflows": True,
    "Comfy.Workflow.ShowMissingNodesWarning": False,
    "Comfy.Workflow.ShowMissingModelsWarning": False,
    "Comfy.Workflow.ConfirmDelete": False,
    "Comfy.PromptFilename": False,
    "Comfy.Minimap.Visible": False,
}
# Read by the frontend before the graph loads: no banner, no restored tabs from a former visit.
INIT_SCRIPT = """
try {
  localStorage.setItem("vueNodesBannerDismissed", "true");
  localStorage.setItem("Comfy.PreviousWorkflow", "");
} catch (e) {}
"""


def frontend_new_root() -> str | None:
    """The 1.58.1 frontend that `scripts/provision.sh --browser` installs, if present."""
    static = REPO / ".host" / "frontend-1.58.1" / "comfyui_frontend_package" / "static"
    return str(static) if (static / "index.html").exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """`with ComfyServer(front_end_root=..., settings={...}) as server:` -> server.url, server.base."""

    def __init__(self, front_end_root: str | None = None, settings: dict | None = None, timeout: float = 120):
        self.front_end_root = front_end_root
        self.settings = {**QUIET_SETTINGS, **(settings or {})}
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.base = Path(tempfile.mkdtemp(prefix="sde-drag-browser-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.base / "server.log"

    @property
    def input_dir(self) -> Path:
        return self.base / "input"

    def start(self) -> "ComfyServer":
        for sub in ("custom_nodes", "input", "output", "temp", "user", "models/checkpoints"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "custom_nodes" / PACK_FOLDER).symlink_to(REPO)
        args = ["bash", str(REPO / "scripts" / "serve.sh"), "--base-directory", str(self.base)]
        if self.front_end_root:
            args += ["--front-end-root", self.front_end_root]
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, cwd=REPO, env={**os.environ, "PORT": str(self.port)},
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.get_json("/system_stats")
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"ComfyUI did not answer within {self.timeout} s:\n{self.log_tail()}")
                time.sleep(0.3)
        self.post_json("/settings", self.settings)
        return self

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def get_json(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def post_json(self, path: str, data) -> int:
        req = urllib.request.Request(self.url + path, data=json.dumps(data).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)  # serve.sh execs python: this is ComfyUI itself
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "ComfyServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def launch_chromium(playwright):
    """Debian's Chromium through Playwright (no `playwright install` needed)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def open_page(browser, server: ComfyServer, viewport=(1280, 800)):
    """A fresh browser context on the UI, returned once the app and its graph exist."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda m: page.console_messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page.console_messages.append(f"pageerror: {e}"))
    page.goto(server.url, wait_until="domcontentloaded")
    page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph && "
                           "window.app.extensions && window.app.extensions.length > 0", timeout=60_000)
    return page


def frontend_server(frontend: str) -> ComfyServer:
    """A server for one of "1.32.9", "1.58.1-classic", "1.58.1-vue" (not started)."""
    root = None
    if frontend.startswith("1.58.1"):
        root = frontend_new_root()
        assert root, "the 1.58.1 frontend is missing: run scripts/provision.sh --browser"
    return ComfyServer(front_end_root=root, settings={"Comfy.VueNodes.Enabled": frontend.endswith("vue")})


# Every node's box as the frontend draws it, in screen pixels, title bar included: the DOM box of a
# Vue node, else LiteGraph's bounding box through the canvas transform. `scale` is the canvas zoom.
NODE_BOXES = """() => {
  const ds = app.canvas.ds, r = app.canvas.canvas.getBoundingClientRect();
  return app.graph._nodes.map((n) => {
    const dom = document.querySelector(`[data-node-id="${n.id}"]`);
    let box;
    if (dom) { const d = dom.getBoundingClientRect(); box = {x: d.left, y: d.top, w: d.width, h: d.height, dom: true,
                                                           overflow: dom.scrollHeight - dom.clientHeight}; }
    else { const b = n.getBounding(); box = {x: r.left + (b[0] + ds.offset[0]) * ds.scale, y: r.top + (b[1] + ds.offset[1]) * ds.scale,
                                            w: b[2] * ds.scale, h: b[3] * ds.scale, dom: false, overflow: 0}; }
    const need = n.computeSize ? n.computeSize() : n.size;
    return {id: n.id, type: n.type, title: n.title, scale: ds.scale, size: [n.size[0], n.size[1]],
            need: [need[0], need[1]], ...box};
  });
}"""


def show_whole_graph(page, scale: float = 0.5) -> None:
    """Zoom the canvas so the whole graph (laid out from 0,0) is on screen; Vue nodes render only when visible."""
    page.evaluate("""(scale) => { app.canvas.ds.scale = scale; app.canvas.ds.offset = [20, 40];
                                  app.graph.setDirtyCanvas(true, true); app.canvas.draw?.(true, true); }""", scale)
    page.wait_for_timeout(600)


def png_bytes(width: int, height: int) -> bytes:
    """A gradient RGB PNG, written without any imaging library."""
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 90))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
