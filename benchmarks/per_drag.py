"""Figure 8, seconds per drag: one whole drag at the paper's preset and at the fast one (from
nodes/presets.py), on ComfyUI's SD1.5 UNet at 512x512 (random weights), with its peak memory,
the identity LoRA's training time, and the ratio to ComfyUI's own sampler making the same
calls. Meant for a GPU (`benchmarks/run.py --device cuda --per-drag`: fp16, as ComfyUI runs
there); `--quick` runs the same code on the tiny model on the CPU (the smoke test)."""
from __future__ import annotations

import time

from . import measure
from .cost_figures import figure_lora_training

GIB = 1 << 30
FULL = {"model": "sd15-unet", "size": 512, "drag_px": 96, "lora_steps": 100, "lora_rank": 4}
QUICK = {"model": "tiny", "size": 256, "drag_px": 32, "lora_steps": 3, "lora_rank": 4, "steps_scale": 0.05}


def _peak_reset(host):
    import torch

    if host.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    measure.reset_peak_rss()
    return measure.current_rss()


def _peak(host, before: int) -> int:
    import torch

    if host.device.type == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    return measure.peak_rss() - before


def timed(host, fn) -> float:
    host.synchronize()
    start = time.perf_counter()
    fn()
    host.synchronize()
    return time.perf_counter() - start


def figure_per_drag(host, presets: dict, config: dict, log=None) -> dict:
    """`presets`: {name: preset dict (steps, t0, cfg, step_size, r, alpha, beta)}."""
    from . import models
    from .workloads import Workloads

    model, info = models.build(config["model"])
    scale = config.get("steps_scale", 1.0)
    rows = {}
    w = None
    for name, p in presets.items():
        steps = max(2, round(p["steps"] * scale))
        w = Workloads(host, config["model"], config["size"], steps, p["t0"], p["cfg"], step_size=p["step_size"],
                      drag_px=config["drag_px"], r=p["r"], alpha=p["alpha"], beta=p["beta"], model=model, info=info)
        w.warm_up()
        before = _peak_reset(host)
        drag_s = timed(host, w.drag)
        peak = _peak(host, before)
        calls = w.counter.snapshot()
        w.counter.reset()
        reference_s = timed(host, w.reference) * w.n_subdrags  # one reference run makes one sub-drag's calls
        rows[name] = {"preset": p, "steps_run": steps, "sub_drags": w.n_subdrags, "denoising_steps": w.n_steps,
                      "calls": calls["calls"], "rows": calls["rows"], "seconds": drag_s,
                      "reference_seconds": reference_s, "ratio_to_comfy_sampler": drag_s / reference_s,
                      "peak_memory_bytes": peak, "peak_memory_gib": peak / GIB}
        if log:
            log(f"  {name}: {drag_s:.2f} s per drag ({calls['calls']} calls), peak {peak / GIB:.2f} GiB, "
                f"ratio to ComfyUI's sampler {drag_s / reference_s:.3f}")
    _, training = figure_lora_training(host, w, config["lora_steps"], config["lora_rank"])
    per_step = training["s_per_step"]["median"]
    out = {"title": "Seconds per drag (paper and fast presets), peak memory, identity LoRA training",
           "device": host.device.type, "model": info["name"], "image_size": f"{config['size']}x{config['size']}",
           "drag_px": config["drag_px"], "presets": rows, "lora": {**training, "seconds_for_100_steps": 100 * per_step},
           "memory": "peak allocated CUDA memory above what was allocated before the drag" if host.device.type == "cuda"
           else "peak RSS above the RSS before the drag"}
    if "paper" in rows and "fast" in rows:
        out["fast_over_paper"] = {"seconds": rows["fast"]["seconds"] / rows["paper"]["seconds"],
                                  "calls": rows["fast"]["calls"] / rows["paper"]["calls"]}
    out["value"] = rows[next(iter(rows))]["seconds"]
    return out
