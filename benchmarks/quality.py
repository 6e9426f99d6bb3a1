"""Figure 5, quality per NFE: SDE Drag on the embedded demo model at fewer steps, on the
bundled demo cases (demo/cases, DragBench layout), through the pack's own nodes.

Metrics per case (64x64 images, pixels in [0, 1]):
- moved: how far the dragged object's centroid went, as a fraction of the drag
  (1 - |centroid_after - target| / |target - source|; 1 = on the target, 0 = did not move).
  The object's pixels are those inside the editable mask whose colour is within 0.25 (RGB
  max-abs) of the object's colour (mean of the original image in a 3x3 box at the source).
- psnr_outside: PSNR of the decoded result against the original image outside the mask
  (where the drag must not change anything); `psnr_outside_vae` is the VAE round trip's
  own PSNR there (the ceiling).
"""
from __future__ import annotations

import math
import time

import torch

CASES = ("red_disc_right", "blue_square_down", "yellow_triangle_diagonal")
DEMO_PRESET = {"r": 2, "step_size": 1, "cfg": 3.0, "alpha": 1.1, "beta": 0.3}  # demo loader's advice


def _psnr(a, b, where) -> float:
    where = where.bool()
    if not where.any():
        return float("nan")
    mse = float(((a - b) ** 2).mean(-1)[where].mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def _object_centroid(image, colour, mask):
    close = ((image - colour).abs().amax(-1) < 0.25) & mask.bool()
    if int(close.sum()) < 4:
        return None
    ys, xs = torch.nonzero(close, as_tuple=True)
    return torch.stack([xs.float().mean(), ys.float().mean()])


def _colour_at(image, x, y):
    h, w = image.shape[:2]
    x0, y0 = int(round(x)), int(round(y))
    return image[max(y0 - 1, 0):min(y0 + 2, h), max(x0 - 1, 0):min(x0 + 2, w)].reshape(-1, 3).mean(0)


def figure_quality(host, steps_list, t0: float, cases=CASES, seed: int = 7, log=None) -> dict:
    from .figures import todo

    title = "Quality per NFE: demo model, SDE Drag at fewer steps"
    try:
        demo_model = host.module("nodes.demo_model")
        model, clip, vae = demo_model.load_demo_model()
    except Exception as e:  # noqa: BLE001  (not there yet, or weights missing)
        return todo(title, f"the demo model does not load in this checkout: {type(e).__name__}: {e}")
    import nodes as comfy_nodes  # ComfyUI's nodes.py (VAEEncode, VAEDecode, CLIPTextEncode)

    dragbench = host.module("nodes.dragbench")
    drag_node = host.module("nodes.drag").SDEDragAllInOne()
    sde_core = host.module("sde_core")
    results = []
    with torch.inference_mode():
        negative = comfy_nodes.CLIPTextEncode().encode(clip, "")[0]
        for case in cases:
            image, mask, points, prompt = dragbench.read_case(dragbench.find_case(case))
            latent = comfy_nodes.VAEEncode().encode(vae, image)[0]
            vae_image = comfy_nodes.VAEDecode().decode(vae, latent)[0][0]
            positive = comfy_nodes.CLIPTextEncode().encode(clip, prompt)[0]
            (sx, sy), (tx, ty) = points.pairs[0]
            colour = _colour_at(image[0], sx, sy)
            outside = mask[0] < 0.5
            length = math.hypot(tx - sx, ty - sy)
            for steps in steps_list:
                cells = host.module("nodes.host").paper_sigmas(model, steps, t0)
                start = time.perf_counter()
                out = drag_node.drag(model, positive, latent, points, "sde", steps, t0, DEMO_PRESET["cfg"],
                                     DEMO_PRESET["step_size"], DEMO_PRESET["r"], DEMO_PRESET["alpha"],
                                     DEMO_PRESET["beta"], seed, negative=negative, mask=mask)[0]
                seconds = time.perf_counter() - start
                result = comfy_nodes.VAEDecode().decode(vae, out)[0][0]
                centroid = _object_centroid(result, colour, mask[0])
                if centroid is None:
                    moved, error = 0.0, float("nan")
                else:
                    error = float(torch.dist(centroid, torch.tensor([tx, ty], dtype=torch.float32)))
                    moved = 1.0 - error / length
                n = len(cells) - 1
                factor = image.shape[2] / latent["samples"].shape[-1]
                pts = torch.tensor(points.pairs, dtype=torch.float64) / factor
                subdrags = len(sde_core.plan_subdrags(pts[:, 0], pts[:, 1], DEMO_PRESET["step_size"]))
                row = {"case": case, "steps": steps, "denoising_steps": n, "sub_drags": subdrags,
                       "nfe_calls": n * subdrags, "moved": moved, "centroid_error_px": error,
                       "psnr_outside_db": _psnr(result, image[0], outside),
                       "psnr_outside_vae_db": _psnr(vae_image, image[0], outside), "seconds": seconds}
                results.append(row)
                if log:
                    log(f"  {case} steps {steps}: moved {moved:.2f}, PSNR outside {row['psnr_outside_db']:.2f} dB, "
                        f"{seconds:.1f} s")
    curve = []
    for steps in steps_list:
        rows = [r for r in results if r["steps"] == steps]
        curve.append({"steps": steps, "nfe_calls": sum(r["nfe_calls"] for r in rows) / len(rows),
                      "moved": sum(r["moved"] for r in rows) / len(rows),
                      "psnr_outside_db": sum(r["psnr_outside_db"] for r in rows) / len(rows),
                      "seconds": sum(r["seconds"] for r in rows) / len(rows)})
    best = curve[0]
    holds = [c for c in curve if c["moved"] >= best["moved"] - 0.05 and c["psnr_outside_db"] >= best[
        "psnr_outside_db"] - 1.0]
    recommended = min(holds, key=lambda c: c["steps"])["steps"] if holds else best["steps"]
    return {"title": title, "goal": "report the curve; recommend the fewest steps whose quality holds",
            "value": recommended, "pass": None, "t0": t0, "preset": DEMO_PRESET, "curve": curve, "cases": results,
            "recommended_steps": recommended,
            "rule": f"quality holds: mean 'moved' within 0.05 and mean PSNR outside the mask within 1 dB of "
                    f"{best['steps']} steps",
            "how": "demo cases through the core VAEEncode/CLIPTextEncode/VAEDecode and SDEDragAllInOne (sde, demo "
                   "preset r 2, step_size 1, cfg 3, the case's mask), seed %d" % seed}
