"""Figure 4, memory: peak RSS of a drag minus peak RSS of its equal-NFE reference, each in a
FRESH process (`run.py --memory-worker SPEC`). In the worker: boot ComfyUI, build the model,
reset the peak (/proc/self/clear_refs 5, so model building does not mask the run), run the
side once, read the peak (VmHWM: the process's own peak RSS; ru_maxrss is also recorded, but in
a child started by fork + exec Linux reports the parent's peak there when it is higher)."""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import measure

REPO = Path(__file__).resolve().parents[1]
MiB = 1 << 20


def worker(spec: dict) -> dict:
    """Runs in the fresh process."""
    from harness.comfy_host import ComfyHost
    from .workloads import Workloads

    host = ComfyHost(spec["device"], threads=spec.get("threads"), quiet=True)
    w = Workloads(host, spec["model"], spec["size"], spec["steps"], spec["t0"], spec["cfg"])
    import comfy.model_management

    comfy.model_management.load_models_gpu([w.model])
    import torch

    cuda = host.device.type == "cuda"
    gc.collect()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        cuda_before = torch.cuda.memory_allocated()
    estimate = host.module("nodes.limits").drag_memory_estimate(
        w.model, w.latent["samples"].shape, 2, w.cfg, w.n_steps, w.n_subdrags) if spec["side"] == "drag" else None
    before = measure.current_rss()
    reset = measure.reset_peak_rss()
    run = w.drag if spec["side"] == "drag" else w.reference
    run()
    snap = w.counter.snapshot()
    out = {"side": spec["side"], "peak_rss_bytes": measure.peak_rss(), "ru_maxrss_bytes": measure.ru_maxrss(),
           "rss_before_bytes": before,
           "peak_reset": reset, "calls": snap["calls"], "rows": snap["rows"], "estimate": estimate}
    if cuda:
        torch.cuda.synchronize()
        out.update(cuda_peak_bytes=torch.cuda.max_memory_allocated(), cuda_before_bytes=cuda_before)
    return out


def spawn(spec: dict) -> dict:
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--memory-worker", json.dumps(spec)], capture_output=True,
                          text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker {spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def trajectory_bytes(host, size: int, steps: int, t0: float, model) -> int:
    """Bytes of the recording one sub-drag holds, from sde_core's own Trajectory.nbytes()."""
    import torch

    sde_core = host.module("sde_core")
    sigmas = host.module("nodes.model_space").paper_sigmas(model, steps, t0)
    cells = size // 8
    return sde_core.record_forward(torch.zeros(1, 4, cells, cells), sigmas, sde_core.VP,
                                   generator=torch.Generator().manual_seed(0)).nbytes()


def figure_memory(host, configs: list, device: str, log=None) -> dict:
    """configs: [{"model", "size", "steps", "t0", "cfg"}]; every (config, side) gets its own process.
    The processes only measure memory, so they run side by side, one torch thread each, as many
    at a time as there are cores (more threads than cores can make OpenMP crawl)."""
    from .models import build

    specs = [dict(c, side=side, device=device, threads=1) for c in configs for side in ("drag", "reference")]
    slots = max(1, min(len(specs), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))
    with ThreadPoolExecutor(max_workers=slots) as pool:
        results = list(pool.map(spawn, specs))
    cases = []
    tiny_model = None
    for k, config in enumerate(configs):
        drag, ref = results[2 * k], results[2 * k + 1]
        if tiny_model is None:
            tiny_model, _ = build("tiny")  # any EPS model gives the same sigmas (SD1.5's schedule)
        traj = trajectory_bytes(host, config["size"], config["steps"], config["t0"], tiny_model)
        diff = drag["peak_rss_bytes"] - ref["peak_rss_bytes"]
        allowance = traj + 64 * MiB
        if "cuda_peak_bytes" in drag:
            config = dict(config, cuda_difference_mib=(drag["cuda_peak_bytes"] - ref["cuda_peak_bytes"]) / MiB)
        cases.append({**config, "image_size": f"{config['size']}x{config['size']}", "drag": drag, "reference": ref,
                      "difference_bytes": diff, "difference_mib": diff / MiB, "trajectory_bytes": traj,
                      "trajectory_mib": traj / MiB, "allowance_mib": allowance / MiB, "pass": diff <= allowance,
                      "rows_match": drag["rows"] == ref["rows"]})
        if log:
            log(f"  memory {config['model']} {config['size']}px: drag - reference = {diff / MiB:.1f} MiB "
                f"(trajectory {traj / MiB:.2f} MiB + 64 MiB allowed)")
    return {"title": "Memory: peak RSS of a drag - peak RSS of the equal-NFE reference (fresh processes)",
            "goal": "<= trajectory bytes + 64 MiB", "value": [c["difference_mib"] for c in cases],
            "pass": all(c["pass"] for c in cases), "cases": cases,
            "how": "one fresh process per (configuration, side), one torch thread: boot, build the model, reset the peak RSS "
                   "(/proc/self/clear_refs), run once, read the peak RSS (VmHWM; ru_maxrss of a forked-and-exec'd child "
                   "carries the parent's peak); the reference is comfy.sample.sample_custom on a "
                   "batch-2 LATENT over the same sigmas (same calls and rows)"}


def figure_estimate(config: dict, device: str, log=None) -> dict:
    """The pack's memory estimate for a drag (`nodes/limits.drag_memory_estimate`: ComfyUI's
    activation formula at the rows a step sends, plus the recording), said before the first
    model call, against what the drag then really took: peak RSS (VmHWM) minus the RSS with the
    model loaded, in a fresh process (on CUDA: peak allocated minus allocated before)."""
    drag = spawn(dict(config, side="drag", device=device, threads=None))
    est = drag["estimate"]
    measured = (drag["cuda_peak_bytes"] - drag["cuda_before_bytes"]) if "cuda_peak_bytes" in drag else \
        (drag["peak_rss_bytes"] - drag["rss_before_bytes"])
    if log:
        log(f"  memory estimate {config['model']} {config['size']}px: estimate {est['total'] / MiB:.0f} MiB, "
            f"measured {measured / MiB:.0f} MiB")
    return {"title": "Memory estimate said before a drag against its measured peak",
            "value": measured / est["total"], "estimate_mib": est["total"] / MiB,
            "estimate": {k: (v / MiB if k != "rows" else v) for k, v in est.items()},
            "measured_mib": measured / MiB, "weights_mib": est["weights"] / MiB, "drag": drag, "config": config,
            "how": "one fresh process: boot, build the model, load it, reset the peak, run the drag once; measured = "
                   "peak RSS - RSS before the drag (CPU) or peak allocated - allocated before (CUDA); value = "
                   "measured / estimate"}
