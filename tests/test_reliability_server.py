"""The live server: a real ComfyUI process on 127.0.0.1 with this pack (the `make serve`
machinery, tests/browser_server.py) takes 100 prompts over HTTP — valid drags, invalid
prompts and core-only graphs — and stays healthy: every valid prompt saves its output, every
invalid one comes back as a node error naming our node, /system_stats answers throughout,
resident memory does not creep; and POST /interrupt stops a running drag within one model call.

A second custom-node folder, `sde_drag_reliability_probe`, is put beside the pack in the
server's temporary base directory: it registers the test-only tiny models (harness/tiny_models.py)
and the call-counting MODEL wrapper (tests/reliability_helpers.py), so model calls are counted
inside the server process. When the pack's demo model loader (SDEDragDemoLoader) is registered,
the soak's drags run on it with a fast preset (20 steps, t0 0.6, one sub-drag); otherwise on the
tiny test model.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from browser_server import ComfyServer

TESTS = Path(__file__).resolve().parent
HARNESS = TESTS.parent / "harness"
PROBE_INIT = f'''
import importlib.util, os, sys

import torch

torch.set_num_threads(1)  # tiny models on a shared machine: more threads only contend

def _load(folder, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

NODE_CLASS_MAPPINGS = {{**_load({str(HARNESS)!r}, "tiny_models").TEST_NODES,
                        **_load({str(TESTS)!r}, "reliability_helpers").TEST_NODES}}
'''
SOAK_PROMPTS = 100
RSS_GROWTH_LIMIT_MIB = 100


class ProbedServer(ComfyServer):
    def start(self):
        probe = self.base / "custom_nodes" / "sde_drag_reliability_probe"
        probe.mkdir(parents=True, exist_ok=True)
        (probe / "__init__.py").write_text(PROBE_INIT)
        return super().start()

    def request(self, method, path, data=None, timeout=30):
        body = None if data is None else json.dumps(data, allow_nan=True).encode()
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def queue(self, graph):
        return self.request("POST", "/prompt", {"prompt": graph, "client_id": "reliability"})

    def wait(self, prompt_id, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, history = self.request("GET", f"/history/{prompt_id}")
            if history and prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
                entry = history[prompt_id]
                if entry["status"].get("status_str") in ("success", "error") or entry["status"]["messages"]:
                    if any(m[0] in ("execution_success", "execution_error", "execution_interrupted")
                           for m in entry["status"]["messages"]):
                        return entry
            time.sleep(0.05)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout} s")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def server():
    with ProbedServer() as s:
        s.info = s.get_json("/object_info")
        missing = [n for n in ("SDEDragAllInOne", "SDEDragPoints", "TestTinyModel", "RelCountedModel")
                   if n not in s.info]
        assert not missing, f"nodes missing on the live server: {missing}\n{s.log_tail()}"
        yield s


# ---- graphs ----------------------------------------------------------------------------------------

def _save(g, source, prefix):
    g["save"] = {"class_type": "SaveLatent", "inputs": {"samples": source, "filename_prefix": prefix}}


def model_nodes(server, counted=None):
    """(graph, model, positive, negative, latent, points text, image size) on the demo model if the pack
    registers it, else on the tiny test model."""
    if "SDEDragDemoLoader" in server.info:
        g = {"loader": {"class_type": "SDEDragDemoLoader", "inputs": {}},
             "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["loader", 1], "text": "red disc"}},
             "neg": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["loader", 1], "text": ""}},
             "empty": {"class_type": "EmptyLatentImage", "inputs": {"width": 128, "height": 128, "batch_size": 1}},
             "gen": {"class_type": "KSampler", "inputs": {
                 "model": ["loader", 0], "seed": 1, "steps": 8, "cfg": 3.0, "sampler_name": "euler",
                 "scheduler": "normal", "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["empty", 0],
                 "denoise": 1.0}}}
        model, latent, points, size = ["loader", 0], ["gen", 0], "24,24 -> 36,30", 64
    else:
        g = {"loader": {"class_type": "TestTinyModel", "inputs": {"family": "eps", "seed": 0}},
             "pos": {"class_type": "TestConditioning", "inputs": {"family": "eps", "seed": 1}},
             "neg": {"class_type": "TestConditioning", "inputs": {"family": "eps", "seed": 2}},
             "gen": {"class_type": "TestPatternLatent", "inputs": {
                 "width": 16, "height": 16, "batch": 1, "seed": 0, "patch_x": 5, "patch_y": 5, "patch_radius": 2}}}
        model, latent, points, size = ["loader", 0], ["gen", 0], "40,40 -> 72,56", 128
    if counted is not None:
        g["counted"] = {"class_type": "RelCountedModel", "inputs": {"model": model, "act_at": 0,
                                                                    "action": "interrupt", "log": counted}}
        model = ["counted", 0]
    return g, model, ["pos", 0], ["neg", 0], latent, points, size


def drag_graph(server, seed, prefix, steps=20, t0=0.6, counted=None, **changes):
    g, model, pos, neg, latent, points, size = model_nodes(server, counted)
    g["points"] = {"class_type": "SDEDragPoints", "inputs": {"points": points}}
    g["drag"] = {"class_type": "SDEDragAllInOne", "inputs": {
        "model": model, "positive": pos, "negative": neg, "latent": latent, "drag_points": ["points", 0],
        "method": "sde", "steps": steps, "t0": t0, "cfg": 3.0, "step_size": 16, "r": 2, "alpha": 1.1, "beta": 0.3,
        "seed": seed}}
    for node, inputs in changes.items():
        g[node]["inputs"].update(inputs)
    _save(g, ["drag", 0], prefix)
    return g, size


def core_graph(seed, prefix):
    g = {"empty": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
         "up": {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["empty", 0], "upscale_method": "nearest-exact",
                                                             "scale_by": 1.0 + (seed % 5) / 10}}}
    _save(g, ["up", 0], prefix)
    return g


def invalid_graph(server, k, seed):
    """(graph, how it fails, our node that must be named)."""
    kind = k % 5
    if kind == 0:  # beyond a widget's range: ComfyUI's validation, at /prompt
        g, _ = drag_graph(server, seed, "rel/bad", drag={"t0": 0.0})
        return g, "validation", "drag"
    if kind == 1:  # a point outside the image
        g, _ = drag_graph(server, seed, "rel/bad", points={"points": "10,10 -> 9999,10"})
        return g, "execution", ("points", "drag")
    if kind == 2:  # malformed DRAG_POINTS
        g, _ = drag_graph(server, seed, "rel/bad", points={"points": '{"points": [[[1, 2], [3'})
        return g, "execution", ("points",)
    if kind == 3:  # NaN in a FLOAT widget: passes ComfyUI's min/max check, refused by the node's validate_inputs
        g, _ = drag_graph(server, seed, "rel/bad", drag={"cfg": float("nan")})
        return g, "validation", "drag"
    g, _ = drag_graph(server, seed, "rel/bad")  # a mask of the wrong shape
    g["mask"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 100, "height": 30}}
    g["drag"]["inputs"]["mask"] = ["mask", 0]
    return g, "execution", ("drag",)


class StatsWatcher(threading.Thread):
    """Asks /system_stats every 0.25 s while the soak runs; keeps failures and the slowest answer."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.stop, self.failures, self.asked, self.slowest = server, threading.Event(), [], 0, 0.0

    def run(self):
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                status, data = self.server.request("GET", "/system_stats", timeout=10)
                if status != 200 or "system" not in data:
                    self.failures.append(status)
            except Exception as e:  # noqa: BLE001
                self.failures.append(repr(e))
            self.asked += 1
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.stop.wait(0.25)


def test_a_hundred_mixed_prompts_leave_the_server_healthy(server):
    started = time.monotonic()
    watcher = StatsWatcher(server)
    watcher.start()
    rss, counts = {}, {"drag": 0, "core": 0, "invalid": 0}
    outputs = Path(server.base) / "output"
    try:
        for i in range(1, SOAK_PROMPTS + 1):
            kind = ("drag", "drag", "drag", "drag", "core", "core", "invalid", "invalid", "invalid", "invalid")[i % 10]
            counts[kind] += 1
            if kind == "invalid":
                graph, how, ours = invalid_graph(server, i // 10 + i, seed=i)
                status, reply = server.queue(graph)
                if how == "validation":
                    assert status == 400 and ours in reply["node_errors"], (i, status, reply)
                    assert reply["node_errors"][ours]["class_type"].startswith("SDEDrag"), reply
                else:
                    assert status == 200, (i, reply)
                    entry = server.wait(reply["prompt_id"])
                    errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
                    assert errors, (i, entry["status"])
                    assert errors[0]["node_id"] in ours and errors[0]["node_type"].startswith("SDEDrag"), errors[0]
                    assert errors[0]["exception_type"] == "ValueError", errors[0]
            else:
                prefix = f"rel/{kind}_{i:03d}"
                graph = drag_graph(server, seed=i, prefix=prefix)[0] if kind == "drag" else core_graph(i, prefix)
                status, reply = server.queue(graph)
                assert status == 200 and not reply["node_errors"], (i, reply)
                entry = server.wait(reply["prompt_id"])
                saved = entry["outputs"]["save"]["latents"]
                assert saved and (outputs / saved[0]["subfolder"] / saved[0]["filename"]).is_file(), (i, entry)
            if i in (10, SOAK_PROMPTS):
                rss[i] = server.rss_mib()
    finally:
        watcher.stop.set()
        watcher.join()
    elapsed = time.monotonic() - started
    growth = rss[SOAK_PROMPTS] - rss[10]
    print(f"soak: {SOAK_PROMPTS} prompts ({counts}) in {elapsed:.1f} s on "
          f"{'the demo model' if 'SDEDragDemoLoader' in server.info else 'the tiny test model'}; "
          f"server RSS after prompt 10: {rss[10]:.1f} MiB, after prompt {SOAK_PROMPTS}: {rss[SOAK_PROMPTS]:.1f} MiB "
          f"(+{growth:.1f} MiB); /system_stats asked {watcher.asked} times, slowest answer {watcher.slowest:.2f} s")
    assert not watcher.failures, watcher.failures[:5]
    assert watcher.asked > 10
    assert growth <= RSS_GROWTH_LIMIT_MIB, rss
    assert server.proc.poll() is None
    _, queue = server.request("GET", "/queue")
    assert queue["queue_running"] == [] and queue["queue_pending"] == []


def _read_log(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def test_interrupt_stops_a_running_drag_within_one_model_call_and_the_rerun_is_bit_identical(server):
    import safetensors.torch
    import torch

    log = Path(server.base) / f"calls_{uuid.uuid4().hex[:8]}.json"
    outputs = Path(server.base) / "output"
    graph, _ = drag_graph(server, seed=77, prefix="rel/cancel", steps=100, t0=0.6, counted=str(log))

    def run_to_end():
        status, reply = server.queue(graph)
        assert status == 200, reply
        entry = server.wait(reply["prompt_id"], timeout=300)
        saved = entry["outputs"]["save"]["latents"][0]
        return safetensors.torch.load_file(str(outputs / saved["subfolder"] / saved["filename"]))["latent_tensor"]

    reference = run_to_end()
    calls_uninterrupted = len(_read_log(log)["calls"])
    assert calls_uninterrupted == 60  # 100 steps x t0 0.6, one sub-drag

    log.unlink()  # RelCountedModel is never cached: the same prompt runs the drag again and logs afresh
    status, reply = server.queue(graph)
    assert status == 200, reply
    deadline = time.monotonic() + 120
    while True:  # interrupt once the drag is well under way
        state = _read_log(log)
        if state and state["interrupt"] is None and len(state["calls"]) >= 10:  # this run's log
            break
        assert time.monotonic() < deadline, "the drag did not start"
        time.sleep(0.01)
    assert server.request("POST", "/interrupt", {})[0] == 200
    entry = server.wait(reply["prompt_id"])
    assert any(m[0] == "execution_interrupted" for m in entry["status"]["messages"]), entry["status"]
    state = _read_log(log)
    received = state["interrupt"]
    after = [t for t in state["calls"] if t > received]
    print(f"cancel: interrupt received after {len(state['calls']) - len(after)} of {calls_uninterrupted} model calls; "
          f"{len(after)} model call(s) started after it")
    assert received is not None and len(after) <= 1
    assert len(state["calls"]) < calls_uninterrupted

    again = run_to_end()  # the same prompt, after the cancel
    assert torch.equal(again, reference), (again - reference).abs().max()
    assert server.get_json("/system_stats")["system"]


@pytest.mark.parametrize("size", [1 << 20, 60_000])
def test_a_huge_adversarial_points_text_is_refused_while_the_server_keeps_answering(server, size):
    """One shared workflow must not freeze a shared server: the text the old parser needed minutes for
    (whitespace runs) is refused (over 64 KiB, at once) or read in linear time, and /system_stats keeps
    answering all the while."""
    watcher = StatsWatcher(server)
    watcher.start()
    try:
        g, _ = drag_graph(server, 1, "rel/huge_points")
        g["points"]["inputs"]["points"] = "1,2 -> " + " " * size + "x"
        started = time.monotonic()
        status, reply = server.queue(g)
        if status == 200:
            entry = server.wait(reply["prompt_id"], timeout=30)
            errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
            assert errors and "drag_points" in errors[0]["exception_message"], entry["status"]
        else:
            assert status == 400 and "points" in reply["node_errors"], reply
            assert "drag_points" in json.dumps(reply["node_errors"]["points"]), reply
        elapsed = time.monotonic() - started
        time.sleep(0.6)  # at least two more /system_stats answers after the refusal
    finally:
        watcher.stop.set()
        watcher.join()
    assert elapsed < 10, elapsed  # the old parser: minutes at 60,000 spaces, never at 1 MB
    assert not watcher.failures and watcher.asked >= 2 and watcher.slowest < 2.0, \
        (watcher.failures, watcher.asked, watcher.slowest)
