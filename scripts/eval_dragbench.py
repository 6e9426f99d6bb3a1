"""Batch run over a drag-benchmark folder through ComfyUI's own HTTP queue (issue 27.3).

Each case (any layout Load DragBench Case reads: DragBench-D, Drag100, SDE-Drag) is submitted as an
API-format prompt (POST /prompt) to one of the --server URLs (one worker per server, so several servers
spread the cases) and its result read from GET /history/<id>. Per case it writes <out>/cases/<name>.json
(time, model calls, peak memory, the latent's largest change outside the mask, finite output; or the
error), skips cases whose JSON is already there (resumable), shows a progress bar, and writes
<out>/summary.json.

The servers must have the pack and scripts/eval_probe/ in custom_nodes/ and see the cases under their
input/dragbench/<prefix>/. Without --server the script starts --local-servers ComfyUI servers itself on
127.0.0.1 (base directory in a temporary folder: the pack and the probe linked in, input/dragbench linked
to --data, models/checkpoints linked to --models), and stops them at the end.

    .venv/bin/python scripts/eval_dragbench.py --data ../shared/data --out benchmarks/results/eval-dragbench
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POINTS_FILES = ("meta_data.pkl", "points.json", "prompt.json")  # DragBench-D, Drag100, SDE-Drag
LAYOUT_OF = {"meta_data.pkl": "dragbench-d", "points.json": "drag100", "prompt.json": "sde-drag"}


def find_cases(root: Path, depth: int = 4) -> list[tuple[str, str]]:
    """(name relative to root, layout) of every case folder under root, sorted."""
    found = []

    def walk(folder: Path, rel: str, left: int):
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            name = f"{rel}/{entry.name}" if rel else entry.name
            marker = next((f for f in POINTS_FILES if (entry / f).is_file()), None)
            if marker:
                found.append((name, LAYOUT_OF[marker]))
            elif left > 1:
                walk(entry, name, left - 1)

    walk(root, "", depth)
    return found


def case_graph(case: str, args) -> dict:
    """The API-format prompt of one case: load, encode, count calls, drag, report."""
    drag = {"method": "sde", "steps": args.steps, "t0": args.t0, "cfg": args.cfg, "step_size": args.step_size,
            "r": args.r, "alpha": 1.1, "beta": 0.3, "seed": args.seed}
    g = {"case": {"class_type": "SDEDragLoadDragBenchCase", "inputs": {"case": case}}}
    if args.tiny:  # the test suite's tiny model (harness/tiny_models.py registered on the servers)
        g["model"] = {"class_type": "TestTinyModel", "inputs": {"family": "eps", "seed": 0}}
        g["pos"] = {"class_type": "TestConditioning", "inputs": {"family": "eps", "seed": 1}}
        g["neg"] = {"class_type": "TestConditioning", "inputs": {"family": "eps", "seed": 2}}
        g["enc"] = {"class_type": "SDEDragEvalImageLatent", "inputs": {"pixels": ["case", 0]}}
        model = ["model", 0]
    else:
        g["ckpt"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": args.checkpoint}}
        g["pos"] = {"class_type": "CLIPTextEncode", "inputs": {"text": ["case", 3], "clip": ["ckpt", 1]}}
        g["neg"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["ckpt", 1]}}
        g["enc"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["case", 0], "vae": ["ckpt", 2]}}
        model = ["ckpt", 0]
    g["count"] = {"class_type": "SDEDragEvalCount", "inputs": {"model": model, "label": case}}
    g["drag"] = {"class_type": "SDEDragAllInOne", "inputs": {
        "model": ["count", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": ["enc", 0],
        "drag_points": ["case", 2], "mask": ["case", 1], **drag}}
    g["report"] = {"class_type": "SDEDragEvalReport", "inputs": {
        "before": ["enc", 0], "after": ["drag", 0], "mask": ["case", 1], "label": case}}
    return g


def _request(url: str, data=None, timeout: float = 30):
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method="GET" if data is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def run_case(server: str, case: str, layout: str, args) -> dict:
    """Submit one case to one server's queue and wait for its history entry."""
    started = time.time()
    record = {"case": case, "layout": layout, "server": server, "settings": {
        k: getattr(args, k) for k in ("steps", "t0", "cfg", "step_size", "r", "seed", "checkpoint", "tiny")}}
    try:
        answer = _request(f"{server}/prompt", {"prompt": case_graph(f"{args.prefix}{case}", args),
                                              "client_id": "sde-drag-eval"})
    except urllib.error.HTTPError as e:  # a prompt ComfyUI refuses: node errors in the body
        return {**record, "status": "error", "error": f"HTTP {e.code}: {e.read().decode(errors='replace')[:2000]}"}
    prompt_id = answer["prompt_id"]
    deadline = started + args.case_timeout
    while True:
        entry = _request(f"{server}/history/{prompt_id}").get(prompt_id)
        if entry and entry.get("status", {}).get("completed") is not None and (
                entry["status"].get("status_str") in ("success", "error")):
            break
        if time.time() > deadline:
            _request(f"{server}/interrupt", {})
            return {**record, "status": "error", "error": f"no result within {args.case_timeout} s (interrupted)"}
        time.sleep(0.5)
    messages = dict((m[0], m[1]) for m in entry["status"].get("messages", []))
    record["wall_s"] = round(time.time() - started, 2)
    if "execution_start" in messages and ("execution_success" in messages or "execution_error" in messages):
        end = messages.get("execution_success", messages.get("execution_error"))
        record["server_s"] = round((end["timestamp"] - messages["execution_start"]["timestamp"]) / 1000, 2)
    if entry["status"]["status_str"] != "success":
        err = messages.get("execution_error", {})
        return {**record, "status": "error", "error": f"{err.get('node_type')}: {err.get('exception_message')}"}
    figures = json.loads(entry["outputs"]["report"]["sde_drag_eval"][0])
    figures.pop("label", None)
    return {**record, "status": "ok", **figures}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """A ComfyUI server on 127.0.0.1 (scripts/serve.sh) with the pack, the probe and the data linked in."""

    def __init__(self, data: Path, models: Path | None, extra_nodes: list[Path]):
        self.base = Path(tempfile.mkdtemp(prefix="sde-drag-eval-"))
        for sub in ("custom_nodes", "input", "output", "temp", "user", "models"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "custom_nodes" / "ComfyUI-SDE-Drag").symlink_to(REPO)
        (self.base / "custom_nodes" / "sde_drag_eval_probe").symlink_to(REPO / "scripts" / "eval_probe")
        for extra in extra_nodes:
            (self.base / "custom_nodes" / extra.name).symlink_to(extra.resolve())
        (self.base / "input" / "dragbench").symlink_to(data.resolve())  # read in place, never copied
        if models:
            (self.base / "models" / "checkpoints").symlink_to(models.resolve())
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.base / "server.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["bash", str(REPO / "scripts" / "serve.sh"), "--base-directory",
                                          str(self.base)], cwd=REPO, env={**os.environ, "PORT": str(self.port)},
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                _request(f"{self.url}/system_stats", timeout=5)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ComfyUI did not answer within {timeout} s")
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)  # serve.sh execs python: this is ComfyUI itself
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)  # links only: the data and models are not followed


def summarize(records: list[dict], args, elapsed: float, total_cases: int) -> dict:
    ok = [r for r in records if r["status"] == "ok"]

    def stats(key, rows):
        values = [r[key] for r in rows if r.get(key) is not None]
        if not values:
            return None
        # six significant digits, not six decimals: an outside-mask change of 4.8e-7 must not read as 0
        return {"median": float(f"{statistics.median(values):.6g}"), "max": float(f"{max(values):.6g}"),
                "min": float(f"{min(values):.6g}"), "n": len(values)}

    by_layout = {}
    for layout in sorted({r["layout"] for r in records}):
        rows = [r for r in ok if r["layout"] == layout]
        by_layout[layout] = {"cases_run": sum(r["layout"] == layout for r in records), "ok": len(rows),
                             **{k: stats(k, rows) for k in ("server_s", "wall_s", "model_calls", "peak_rss_mib",
                                                            "peak_cuda_mib", "outside_mask_max_change")}}
    return {"data": str(args.data), "cases_found": total_cases, "cases_run": len(records), "ok": len(ok),
            "errors": {r["case"]: r["error"][:300] for r in records if r["status"] != "ok"},
            "all_outputs_finite": all(r.get("finite_output") for r in ok),
            "settings": records[0]["settings"] if records else None, "servers": sorted({r["server"] for r in records}),
            "elapsed_s_this_run": round(elapsed, 1), "by_layout": by_layout}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="benchmark folder (cases up to 4 levels deep)")
    p.add_argument("--out", type=Path, default=REPO / "output" / "eval-dragbench")
    p.add_argument("--server", action="append", default=[], help="ComfyUI URL (repeat to spread the cases)")
    p.add_argument("--prefix", default="", help="where --data sits under the servers' input/dragbench/ ('x/')")
    p.add_argument("--local-servers", type=int, default=1, help="servers to start when no --server is given")
    p.add_argument("--models", type=Path, default=Path(os.environ.get("SDE_DRAG_MODEL_CACHE") or REPO / ".host" / "fullsize"),
                   help="checkpoints folder for the local servers")
    p.add_argument("--extra-nodes", type=Path, action="append", default=[], help="custom node folder to link in")
    p.add_argument("--checkpoint", default="v1-5-pruned-emaonly-fp16.safetensors")
    p.add_argument("--tiny", action="store_true", help="the test suite's tiny model instead of a checkpoint")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--t0", type=float, default=0.2)
    p.add_argument("--cfg", type=float, default=1.0)
    p.add_argument("--step-size", type=int, default=64, help="latent cells per sub-drag (64: one sub-drag)")
    p.add_argument("--r", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="run at most this many cases (0: all)")
    p.add_argument("--max-seconds", type=float, default=0, help="submit no new case after this long (0: no limit)")
    p.add_argument("--case-timeout", type=float, default=3600)
    args = p.parse_args(argv)

    cases = find_cases(args.data)
    if not cases:
        print(f"no case folders under {args.data}", file=sys.stderr)
        return 2
    case_dir = args.out / "cases"
    case_dir.mkdir(parents=True, exist_ok=True)
    path_of = lambda name: case_dir / (name.replace("/", "__") + ".json")  # noqa: E731
    todo = [(n, l) for n, l in cases if not path_of(n).exists()]
    by_layout = [[c for c in todo if c[1] == layout] for layout in sorted({l for _, l in todo})]
    todo = [c for group in zip(*by_layout) for c in group] + [  # layouts take turns: a cut-short run has each
        c for group in by_layout for c in group[min(map(len, by_layout)):]]
    if args.limit:
        todo = todo[:args.limit]
    servers, local = list(args.server), []
    if not servers and not args.tiny and not (args.models / args.checkpoint).is_file():
        # Without this every case would be recorded as failed and a resumed run would skip them all.
        print(f"--checkpoint {args.checkpoint} is not in --models {args.models}: build the full-size stand-in "
              f"(.venv/bin/python -m harness.fullsize_models sd15) or pass --models <your checkpoints folder>",
              file=sys.stderr)
        return 2
    try:
        if not servers:
            local = [LocalServer(args.data, args.models, args.extra_nodes) for _ in range(args.local_servers)]
            for s in local:
                s.wait()
            servers = [s.url for s in local]
        work: queue.Queue = queue.Queue()
        for item in todo:
            work.put(item)
        started = time.time()
        try:
            from tqdm import tqdm
            bar = tqdm(total=len(todo), unit="case", desc="eval-dragbench")
        except ImportError:
            bar = None
        lock = threading.Lock()

        def worker(server: str):
            while True:
                if args.max_seconds and time.time() - started > args.max_seconds:
                    return
                try:
                    name, layout = work.get_nowait()
                except queue.Empty:
                    return
                record = run_case(server, name, layout, args)
                tmp = path_of(name).with_suffix(".tmp")
                tmp.write_text(json.dumps(record, indent=1))
                tmp.replace(path_of(name))  # a finished JSON only: an interrupted case reruns
                with lock:
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix_str(f"{record['status']} {name[-30:]}")

        threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if bar is not None:
            bar.close()
    finally:
        for s in local:
            s.stop()
    records = [json.loads(path_of(n).read_text()) for n, _ in cases if path_of(n).exists()]
    summary = summarize(records, args, time.time() - started, len(cases))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("cases_found", "cases_run", "ok", "all_outputs_finite")}))
    return 0 if summary["ok"] == summary["cases_run"] else 1


if __name__ == "__main__":
    sys.exit(main())
