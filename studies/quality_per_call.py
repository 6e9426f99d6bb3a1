"""Figure 5, drag quality per model call, on both models of the SDE-vs-ODE study: which plan
is the cheapest whose quality stays within the paper preset's interval, and what the pack's
fast preset costs next to the paper's.

It runs no drag: it reads what `make eval` measured and committed,
`benchmarks/results/study_drag.json` (demo model, SDE-Drag plans over steps, t0 and
step_size, N cases each, primary measure `gt_l1_ae`: L1 to the AE reconstruction of the true
moved scene over the edited region) and `benchmarks/results/eval_exact.json` (exact-score
model: posterior weight of the target position and exact log-likelihood, per plan).

A demo plan holds when its mean `gt_l1_ae` is at most the upper end of the 200-step plan's
95 % bootstrap interval; the paired difference to the 200-step plan (same cases, same seeds)
is given with its own interval."""
from __future__ import annotations

import json
import os

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "results")
PAPER_PLAN = "200 steps"


def presets():
    """nodes/presets.py (the pack's presets, defined once)."""
    from studies import drag_trials

    return drag_trials.PRESETS


def bootstrap_ci(values, seed: int = 0, n_boot: int = 2000) -> list[float]:
    from studies import eval_measures

    return eval_measures.bootstrap_ci(values, seed, n_boot)


def demo_curve(study: dict) -> dict:
    """Each SDE plan of the study's cost experiment: calls, share of the paper plan's calls, the
    primary measure with its interval, the paired difference to the paper plan, and whether it
    holds."""
    plans = {c["plan"]: c for c in study["cost"]}
    paper = plans[PAPER_PLAN]
    paper_rows = study["per_case"][paper["rows_key"]]
    limit = paper["gt_l1_ae_ci95"][1]
    curve = []
    for c in sorted(study["cost"], key=lambda c: c["unet_calls_per_case"]):
        rows = study["per_case"][c["rows_key"]]
        diff = [a["gt_l1_ae"] - b["gt_l1_ae"] for a, b in zip(rows, paper_rows)]
        curve.append({
            "plan": c["plan"], "steps": c["steps"], "t0": c["t0"], "step_size": c["step_size"], "r": c["r"],
            "unet_calls_per_case": c["unet_calls_per_case"],
            "share_of_paper_calls": c["unet_calls_per_case"] / paper["unet_calls_per_case"],
            "gt_l1_ae": c["gt_l1_ae"], "gt_l1_ae_ci95": c["gt_l1_ae_ci95"], "dai_4": c["dai_4"],
            "shape_kept": c["shape_kept"], "successes": c["successes"],
            "paired_minus_paper": float(np.mean(diff)), "paired_minus_paper_ci95": bootstrap_ci(diff),
            "holds": c["gt_l1_ae"] <= limit})
    holding = [c for c in curve if c["holds"]]
    return {"n": study["n"], "source": "benchmarks/results/study_drag.json", "date": study["date"],
            "rule": f"mean L1 to the true moved scene (AE) <= {limit:.4f}, the upper end of the 200-step plan's "
                    "95 % interval", "curve": curve,
            "cheapest_holding": min(holding, key=lambda c: c["unet_calls_per_case"]) if holding else None}


def exact_curve(exact: dict) -> dict:
    """The exact-score model's SDE plans (from eval_exact's cost table): rows per image and the
    target weight, with the cheapest plan within the paper default's interval."""
    cost = exact["tables"]["cost"]["sde"]
    default = cost["default"]
    return {"n": exact["n"], "source": "benchmarks/results/eval_exact.json",
            "default": {k: default[k] for k in ("steps", "t0", "step_size")} | {
                "target": default["target"], "rows_per_image": default.get("rows_per_image")},
            "cheapest_holding": {k: cost["cheapest_holding"][k] for k in ("steps", "t0", "step_size")} | {
                "target": cost["cheapest_holding"]["target"],
                "rows_per_image": cost["cheapest_holding"].get("rows_per_image")},
            "cheapest_rows_fraction": cost["cheapest_rows_fraction"]}


def fast_preset_share(demo: dict, fast: dict) -> dict | None:
    """The fast preset's plan on the demo curve, matched by steps, t0 and step_size (r is the
    demo's scale of the paper's: 3 of 16 latent cells for 5 of 64)."""
    for c in demo["curve"]:
        if (c["steps"], c["t0"], c["step_size"]) == (fast["steps"], fast["t0"], fast["step_size"]):
            return c
    return None


def figure_quality(study_path: str | None = None, exact_path: str | None = None, fast: dict | None = None) -> dict:
    study_path = study_path or os.path.join(RESULTS, "study_drag.json")
    exact_path = exact_path or os.path.join(RESULTS, "eval_exact.json")
    with open(study_path, encoding="utf-8") as f:
        study = json.load(f)
    with open(exact_path, encoding="utf-8") as f:
        exact = json.load(f)
    demo = demo_curve(study)
    out = {"title": "Quality per model call (SDE-Drag plans; from make eval's committed results)", "demo": demo,
           "exact": exact_curve(exact), "how": __doc__.split("\n\n")[1].replace("\n", " ")}
    cheapest = demo["cheapest_holding"]
    out["value"] = cheapest["share_of_paper_calls"] if cheapest else None
    out["pass"] = cheapest is not None and cheapest["share_of_paper_calls"] <= 0.25
    if fast is not None:
        on_curve = fast_preset_share(demo, fast)
        out["fast_preset"] = {"settings": fast, "measured": on_curve is not None,
                              **({"share_of_paper_calls": on_curve["share_of_paper_calls"], "holds": on_curve["holds"]}
                                 if on_curve else {})}
    return out
