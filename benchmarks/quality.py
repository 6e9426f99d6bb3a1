"""Figure 5, quality per NFE: SDE Drag on the embedded demo model at fewer steps, on the
bundled demo cases (demo/cases, DragBench layout), through the pack's own nodes and the
core VAEEncode / CLIPTextEncode / VAEDecode.

Metrics per case: the demo's own drag metrics (`demo/metrics.py: drag_report`, the object
found by its colour) against the autoencoder's reconstruction of the input:
- centroid_error_px: the object's centroid after the drag to the target (px); `moved` is
  1 - error / drag length (1 = on the target, 0 = not moved);
- left_at_source: share of the object still at the source;
- psnr_outside_db: PSNR outside the editable mask (what the drag must keep).
"""
from __future__ import annotations

import importlib.util
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
CASES = ("red_disc_right", "blue_square_down", "yellow_triangle_diagonal")
DRAG_KNOBS = ("r", "step_size", "cfg", "alpha", "beta")  # from nodes/presets.py DEMO; steps and t0 are swept
HOLD = {"centroid_error_px": 1.0, "left_at_source": 0.05, "psnr_outside_db": 1.0}


def _by_path(name: str, path: Path):
    """Load a demo/ script by file path; sys.path is restored (make_cases.py puts demo/ in front)."""
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def _weights(demo_model) -> dict:
    """sha256 (first 16 hex digits) of the demo weight files the figure was measured with."""
    import hashlib

    folder = Path(demo_model.default_weights_dir())
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in sorted(folder.glob("*.safetensors"))}


def figure_quality(host, steps_list, t0: float, cases=CASES, seed: int = 7, log=None) -> dict:
    from .figures import todo

    title = "Quality per NFE: demo model, SDE Drag at fewer steps"
    try:
        demo_model = host.module("demo.model")
        model, clip, vae = demo_model.load_demo_model()
        metrics = _by_path("sde_drag_bench_demo_metrics", REPO / "demo" / "metrics.py")
        make_cases = _by_path("sde_drag_bench_demo_make_cases", REPO / "demo" / "make_cases.py")
        scenes = _by_path("sde_drag_bench_demo_scenes", REPO / "demo" / "scenes.py")
    except Exception as e:  # noqa: BLE001  (not there yet, or weights missing)
        return todo(title, f"the demo model does not load in this checkout: {type(e).__name__}: {e}")
    import nodes as comfy_nodes  # ComfyUI's nodes.py (VAEEncode, VAEDecode, CLIPTextEncode)

    preset = {k: host.module("nodes.presets").DEMO[k] for k in DRAG_KNOBS}  # the demo model's drag settings
    dragbench = host.module("nodes.dragbench")
    drag_node = host.module("nodes.drag").SDEDragAllInOne()
    sde_core = host.module("sde_core")
    paper_sigmas = host.module("nodes.model_space").paper_sigmas
    results = []
    weights = _weights(demo_model)
    with torch.inference_mode():
        negative = comfy_nodes.CLIPTextEncode().encode(clip, "")[0]
        for case in cases:
            image, mask, points, prompt = dragbench.read_case(dragbench.find_case(case))
            _, shape, colour, radius, _, _ = make_cases.CASES[case]
            rgb, extent = scenes.COLOURS[colour], scenes.shape_extent(shape, radius)
            latent = comfy_nodes.VAEEncode().encode(vae, image)[0]
            reference = comfy_nodes.VAEDecode().decode(vae, latent)[0][0].float().numpy()
            positive = comfy_nodes.CLIPTextEncode().encode(clip, prompt)[0]
            (sx, sy), (tx, ty) = points.pairs[0]
            length = math.hypot(tx - sx, ty - sy)
            outside = mask[0].numpy() < 0.5
            factor = image.shape[2] / latent["samples"].shape[-1]
            cells = torch.tensor(points.pairs, dtype=torch.float64) / factor
            subdrags = len(sde_core.plan_subdrags(cells[:, 0], cells[:, 1], preset["step_size"]))
            for steps in steps_list:
                n = len(paper_sigmas(model, steps, t0)) - 1
                start = time.perf_counter()
                out = drag_node.execute(model, positive, latent, points, "sde", steps, t0, preset["cfg"],
                                        preset["step_size"], preset["r"], preset["alpha"], preset["beta"], seed,
                                        negative=negative, mask=mask)[0]
                seconds = time.perf_counter() - start
                result = comfy_nodes.VAEDecode().decode(vae, out)[0][0].float().numpy()
                rep = metrics.drag_report(result, reference, rgb, (sx, sy), (tx, ty), extent)
                error = rep["centroid_error_px"]
                row = {"case": case, "steps": steps, "denoising_steps": n, "sub_drags": subdrags,
                       "nfe_calls": n * subdrags, "centroid_error_px": error,
                       "moved": 1.0 - error / length if np.isfinite(error) else 0.0,
                       "left_at_source": rep["left_at_source"], "area_ratio": rep["area_ratio"],
                       "psnr_outside_db": metrics.psnr(result, reference, outside),
                       "background_psnr_db": rep["background_psnr_db"], "seconds": seconds}
                results.append(row)
                if log:
                    log(f"  {case} steps {steps}: centroid error {error:.2f} px, left {rep['left_at_source']:.2f}, "
                        f"PSNR outside {row['psnr_outside_db']:.2f} dB, {seconds:.1f} s")
    curve = []
    for steps in steps_list:
        rows = [r for r in results if r["steps"] == steps]
        curve.append({"steps": steps, **{k: float(np.mean([r[k] for r in rows])) for k in (
            "nfe_calls", "moved", "centroid_error_px", "left_at_source", "psnr_outside_db", "seconds")}})
    best = curve[0]
    holds = [c for c in curve if c["centroid_error_px"] <= best["centroid_error_px"] + HOLD["centroid_error_px"]
             and c["left_at_source"] <= best["left_at_source"] + HOLD["left_at_source"]
             and c["psnr_outside_db"] >= best["psnr_outside_db"] - HOLD["psnr_outside_db"]]
    recommended = min(c["steps"] for c in holds)
    return {"title": title, "goal": "report the curve; recommend the fewest steps whose quality holds",
            "value": recommended, "pass": None, "t0": t0, "preset": preset, "seed": seed, "curve": curve,
            "cases": results, "recommended_steps": recommended, "demo_weights": weights,
            "rule": f"quality holds where the mean centroid error is within {HOLD['centroid_error_px']:g} px, the share "
                    f"left at the source within {HOLD['left_at_source']:g} and the PSNR outside the mask within "
                    f"{HOLD['psnr_outside_db']:g} dB of {best['steps']} steps",
            "how": "bundled demo cases through the core VAEEncode/CLIPTextEncode/VAEDecode and SDEDragAllInOne "
                   "(sde, the demo preset of nodes/presets.py, the case's mask); metrics from demo/metrics.py against "
                   "the autoencoder's reconstruction of the input"}
