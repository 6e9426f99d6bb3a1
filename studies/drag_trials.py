"""One drag setting run over a set of seeded demo cases, each result measured: the shared
engine of `eval_demo.py` (SDE vs ODE at the demo presets) and `study_drag.py` (the causes).

The measures are the ones `eval_demo.py`'s docstring declares; a case's row holds all of
them, so every figure of a table can be traced to its cases in the JSON."""
from __future__ import annotations

import json
import math
import time

import numpy as np

from harness import plain_module
from studies import eval_measures as em
from studies.eval_measures import metrics, scenes


PRESETS = plain_module("nodes/presets.py")  # the pack's presets, defined once
SUCCESS = {"centroid_error_px": 4.0, "left_at_source": 0.2}
GAMMAS = (1, 4, 8)  # DAI patch half-widths (px): a point, the object's core, the object and its rim


class DragSet:
    """`n` seeded drag cases with what the measures need: inputs, their latents and AE
    reconstructions, the true moved scenes (raw and through the AE)."""

    def __init__(self, demo, seed: int, n: int):
        self.cases = em.drag_cases(seed, n)
        self.images = np.stack([c["image"] for c in self.cases])
        self.latents = demo.encode(self.images)
        self.recon = demo.decode(self.latents)
        self.moved = np.stack([scenes.render_scene(c["params"], centroid=c["target"])[0] for c in self.cases])
        self.moved_recon = demo.roundtrip(self.moved)

    def __len__(self):
        return len(self.cases)

    def first(self, n: int) -> "DragSet":
        """The first `n` cases (same seeds: case i keeps sampler seed + i)."""
        return self.part(0, n)

    def part(self, start: int, stop: int) -> "DragSet":
        """Cases `start` to `stop` - 1 (run them with sampler seed + start to keep each case's seed)."""
        sub = object.__new__(DragSet)
        sub.cases = self.cases[start:stop]
        for name in ("images", "latents", "recon", "moved", "moved_recon"):
            setattr(sub, name, getattr(self, name)[start:stop])
        return sub

    def case_json(self, sampler_seed: int) -> list[dict]:
        return [{"prompt": c["prompt"], "source": c["source"], "target": c["target"], "extent": c["extent"],
                 "sampler_seed": sampler_seed + i} for i, c in enumerate(self.cases)]


def run_setting(demo, dragset: DragSet, method: str, s: dict, sampler_seed: int, models=None) -> tuple[np.ndarray, dict]:
    """Drag every case of `dragset` with the SDE Drag node (`method` 'sde' or 'ode', settings
    `s`: steps, t0, cfg, step_size, r, alpha, beta; optionally eta for 'sde'), case i with seed
    `sampler_seed + i` and `models[i]` when given (an identity-LoRA MODEL per case). Returns the
    decoded results and the cost (seconds, UNet calls and rows per case).

    `eta` < 1 is not a node input (the exact-score study found no eta that beats both ends), so
    such a setting runs a subclass of the node whose `drag_method` is Cycle-SDE at that eta."""
    eta = float(s.get("eta", 1.0))
    if method != "sde" and eta != 1.0:
        raise ValueError(f"eta {eta} applies to method 'sde' only")
    node = demo.drag_node if eta == 1.0 else node_at_eta(demo, eta)
    return run_node(demo, node, dragset, method, s, sampler_seed, models)


def node_at_eta(demo, eta: float):
    """The SDE Drag node with its SDE step at DDIM's `eta` (`sde_core.sde_method(eta=...)`)."""
    sde_method = demo.host.module("sde_core").sde_method

    class SDEDragAtEta(type(demo.drag_node)):
        @classmethod
        def drag_method(cls, method, schedule, model):
            if method != "sde":
                return super().drag_method(method, schedule, model)
            return sde_method(schedule, eta=eta)

    return SDEDragAtEta()


def node_at_switch(demo, switch: float, ode_first: bool = True):
    """The SDE Drag node whose Cycle-SDE denoising takes ``sde_core.switch_etas(n, switch,
    ode_first)`` over the ``n`` steps of each sub-drag: eta 0 on the first ``round(switch n)``
    (noisiest) steps, then eta 1 (``ode_first=False``: the reverse). ``method`` 'ode' is unchanged."""
    switch_etas = demo.host.module("sde_core").switch_etas

    class SDEDragSwitch(type(demo.drag_node)):
        @classmethod
        def drag_method(cls, method, schedule, model):
            base = super().drag_method(method, schedule, model)
            if method != "sde":
                return base

            def denoise(model, x, sigmas, **kwargs):
                return base.denoise(model, x, sigmas, eta=switch_etas(len(sigmas) - 1, switch, ode_first), **kwargs)

            return base._replace(denoise=denoise)

    return SDEDragSwitch()


def run_node(demo, node, dragset, method, s, sampler_seed, models=None):
    """`run_setting` with a given node (`node_at_eta`, `node_at_switch`, or the pack's)."""
    torch = demo.torch
    negative = demo.cond("")
    demo.reset_count()
    start = time.perf_counter()
    out = []
    for i, case in enumerate(dragset.cases):
        points = demo.parse_points(json.dumps({"points": [[case["source"], case["target"]]],
                                               "width": scenes.IMAGE_SIZE, "height": scenes.IMAGE_SIZE}))
        model = demo.counted if models is None else demo.counting(models[i])
        with torch.no_grad():
            latent, _ = node.execute(
                model, demo.cond(case["prompt"]), {"samples": dragset.latents[i:i + 1]}, points, method,
                s["steps"], s["t0"], s["cfg"], s["step_size"], s["r"], s["alpha"], s["beta"], sampler_seed + i,
                negative=negative, mask=torch.from_numpy(case["mask"]))
        out.append(latent["samples"])
    seconds = time.perf_counter() - start
    n = len(dragset)
    cost = {"seconds_per_case": seconds / n, "unet_calls_per_case": demo.counter["calls"] / n,
            "unet_rows_per_case": demo.counter["rows"] / n}
    return demo.decode(torch.cat(out)), cost


def measure(images: np.ndarray, dragset: DragSet, classifier) -> list[dict]:
    """Each result's row: centroid error, share left at the source, area ratio, background PSNR,
    colour and shape kept, success, and the ground-truth measures (`em.ground_truth`)."""
    rows = []
    for img, ref, case, moved, moved_ae, orig in zip(images, dragset.recon, dragset.cases, dragset.moved,
                                                     dragset.moved_recon, dragset.images):
        rgb = scenes.COLOURS[case["colour"]]
        rep = metrics.drag_report(img, ref, rgb, case["source"], case["target"], case["extent"])
        idn = em.identity(img, case["target"], case["extent"], classifier)
        rep.update(colour=idn["colour"], shape=idn["shape"], shape_iou=idn["shape_iou"],
                   colour_kept=idn["colour"] == case["colour"], shape_kept=idn["shape"] == case["shape"])
        rep["identity_kept"] = rep["colour_kept"] and rep["shape_kept"]
        rep["success"] = bool(rep["centroid_error_px"] < SUCCESS["centroid_error_px"]
                              and rep["left_at_source"] < SUCCESS["left_at_source"] and rep["identity_kept"])
        rep.update(em.ground_truth(img, moved, moved_ae, orig, case["mask"] > 0.5, case["source"], case["target"],
                                   GAMMAS))
        rows.append({k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in rep.items()})
    return rows


def mean(xs):
    xs = [float(x) for x in xs]
    return float(np.mean(xs)) if xs else float("nan")


CONTINUOUS = ("centroid_error_px", "left_at_source", "area_ratio", "background_psnr_db", "shape_iou", "gt_l1",
              "gt_l1_ae", *(f"dai_{g}" for g in GAMMAS))
RATES = ("colour_kept", "shape_kept", "identity_kept", "success")


def summarise(rows: list[dict], realism: dict | None = None, fd: float | None = None) -> dict:
    """Means (with 95 % bootstrap intervals for the ground-truth measures) and rates."""
    out = {k: mean(r[k] for r in rows) for k in CONTINUOUS}
    out["centroid_error_px_median"] = float(np.median([r["centroid_error_px"] for r in rows]))
    for k in ("gt_l1_ae", "dai_4"):
        out[f"{k}_ci95"] = em.bootstrap_ci([r[k] for r in rows])
    out.update({f"{k}_rate" if k == "success" else k: mean(r[k] for r in rows) for k in RATES})
    out["successes"] = int(sum(r["success"] for r in rows))
    if realism is not None:
        out["c2st"] = realism
    if fd is not None:
        out["frechet"] = fd
    return out


def sign_test(k: int, n: int) -> float:
    """Two-sided exact binomial (sign) test of k successes in n discordant pairs at p = 1/2."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(0, min(k, n - k) + 1)) / 2 ** n
    return float(min(1.0, 2 * tail))


def paired(sde: list[dict], ode: list[dict]) -> dict:
    """Case by case (same scene, drag, mask, seed): for each yes/no measure the counts both /
    SDE only / ODE only / neither with the sign test over the discordant cases; for each
    lower-is-better continuous measure on how many cases SDE is lower, the sign test, and the
    mean of SDE - ODE with its 95 % bootstrap interval."""
    out = {}
    for key in ("success", "identity_kept", "shape_kept"):
        s_only = sum(bool(a[key]) and not bool(b[key]) for a, b in zip(sde, ode))
        o_only = sum(bool(b[key]) and not bool(a[key]) for a, b in zip(sde, ode))
        both = sum(bool(a[key]) and bool(b[key]) for a, b in zip(sde, ode))
        out[key] = {"both": both, "sde_only": s_only, "ode_only": o_only, "neither": len(sde) - both - s_only - o_only,
                    "sign_test_p": sign_test(s_only, s_only + o_only)}
    for key in ("centroid_error_px", "gt_l1_ae", "dai_4"):
        diff = [a[key] - b[key] for a, b in zip(sde, ode)]
        lower = sum(d < 0 for d in diff)
        ties = sum(d == 0 for d in diff)
        out[f"{key}_sde_lower"] = {"cases": lower, "of": len(diff) - ties,
                                   "sign_test_p": sign_test(lower, len(diff) - ties),
                                   "mean_sde_minus_ode": mean(diff), "ci95": em.bootstrap_ci(diff)}
    return out

