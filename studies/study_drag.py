"""SDE-Drag against ODE-Drag on the demo model, setting by setting: one experiment per suspected
cause of the first demo model's loss (its prior, steps, no identity LoRA, the metrics, t0 and
alpha, cfg), an inner eta between the two ends, and the cost of each drag plan (quality per
model call, figure 5). On the retrained model that the JSON holds, the prior draws the prompted
shape and the drag ties at t0 0.4; which side a setting favours is in its table, not assumed here.

    .venv/bin/python -m studies.study_drag [--n 32] [--quick] [--out PATH] [--threads 1]
    .venv/bin/python -m studies.study_drag --only lora_cost   # redo one experiment, keep the rest

Every drag runs the pack's `SDE Drag` node on the same N seeded cases (scene seed 1200;
case i with sampler seed 2200 + i for every setting and both methods) and is measured with
the measures `eval_demo.py` declares (primary: `gt_l1_ae`, the L1 to the autoencoder's
reconstruction of the true moved scene over the edited region; plus DAI, shape kept,
centroid error, success). The experiments, fixed before the runs:

- prior (cause 1, the model's own prior): no drag at all. Unedited fresh scenes through
  SDEdit (`SDE/ODE Img2Img & Inpaint`, eta 1 vs 0, t0 0.4 and 0.6, 50 steps, cfg 3, the
  scene's prompt): how often the shape class survives, per class; and generation from
  noise (t0 1): how often the result has the prompted shape and colour, per class. If SDE
  loses shapes on unedited scenes, the drag's loss is the prior's, not the drag's.
- grid (causes 5 and 6: t0, alpha, cfg): t0 in {0.3, 0.4, 0.5, 0.6, 0.8} x alpha in {1.1,
  1.3} x cfg in {3, 1}, demo presets otherwise.
- steps (cause 2): 200 steps (the paper's) against 50 at t0 0.6.
- lora (cause 3): an identity LoRA trained per case (rank 4, 100 steps, lr 2e-4, the
  paper's) on the input, used by both methods (its scale ramps from 0.5 at t0, as the
  paper), t0 0.6, 50 steps, on the first 16 cases (against the same 16 without it).
- lora_cost (issue "Speed"): the identity LoRA with fewer steps at a higher learning rate (25
  steps at 8e-4, 10 at 2e-3) against the paper's 100 at 2e-4, SDE-Drag, the same 16 cases.
- eta (issue "SDE vs ODE", item 5: beyond the two ends): Cycle-SDE with DDIM's eta
  (`sde_core.cycle_step_eta`, the recording unchanged) at eta 0, 0.5 and 0.75 against eta 1
  (SDE-Drag) and ODE-Drag at t0 0.4 and 0.6, demo presets otherwise: does an inner eta beat
  both ends on the primary measure (paired with ODE-Drag's cases)?
- cost (issue "Speed"): SDE-Drag plans of decreasing cost, steps 25/50/100/200 at t0 0.6,
  fewer and longer sub-drags (step_size 4), and t0 0.4 at 25 steps: the
  primary measure with its 95 % interval against UNet calls per case.

Cause 4 (the metrics) is decided by `eval_demo.py` itself (the ground-truth measures beside
the success rate, at N = 200). Writes benchmarks/results/study_drag.json and prints tables.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time

import numpy as np

from studies import drag_trials as trials
from studies import eval_demo
from studies import eval_measures as em
from studies.eval_measures import scenes

ROOT = eval_demo.ROOT
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "study_drag.json")
QUICK_OUT = os.path.join(ROOT, "benchmarks", "results", "quick", "study_drag.json")  # git-ignored: never the full run
SEEDS = {"drag_scenes": 1200, "drag_sampler": 2200, "prior_scenes": 1300, "prior_sampler": 2300, "lora": 2400}
PRESET = {"t0": 0.6, **eval_demo.DRAG_PRESET}
GRID_T0 = (0.3, 0.4, 0.5, 0.6, 0.8)
GRID_ALPHA = (1.1, 1.3)
GRID_CFG = (3.0, 1.0)
QUICK_GRID = ({"t0": 0.4, "alpha": 1.1, "cfg": 3.0}, {"t0": 0.6, "alpha": 1.1, "cfg": 3.0},
              {"t0": 0.6, "alpha": 1.3, "cfg": 3.0}, {"t0": 0.6, "alpha": 1.1, "cfg": 1.0})
N_LORA = 16  # the first 16 cases: a LoRA is trained per case
LORA = {"rank": 4, "steps": 100, "learning_rate": 2e-4}
LORA_PLANS = ((25, 8e-4), (10, 2e-3))  # (steps, learning rate): a quarter and a tenth of the paper's steps
EXPERIMENTS = ("prior", "grid", "steps", "cost", "lora", "lora_cost", "eta")
ETAS = (0.0, 0.5, 0.75)  # eta 1 and ODE-Drag are the grid's rows
COST_PLANS = [  # SDE only; (name, changes to PRESET)
    ("200 steps", {"steps": 200}), ("100 steps", {"steps": 100}), ("50 steps", {}),
    ("25 steps", {"steps": 25}), ("50 steps, step_size 4, r 3", {"step_size": 4}),
    ("25 steps, t0 0.4", {"steps": 25, "t0": 0.4}),
]


def cost_rows_key(plan: str) -> str:
    """The `per_case` key of a cost plan's rows (plans measured by another experiment share its run)."""
    return "SDE " + {"50 steps": "t0 0.6 alpha 1.1 cfg 3", "50 steps (demo preset)": "t0 0.6 alpha 1.1 cfg 3",
                     "200 steps": "200 steps t0 0.6"}.get(plan, plan)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=None, help="drag cases (default 32; 3 with --quick)")
    ap.add_argument("--n-prior", type=int, default=None, help="scenes for the prior experiment (default 144; 6 quick)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: small N, 2 grid points, 2 LoRA steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="the JSON (default benchmarks/results/study_drag.json; with --quick "
                                                "benchmarks/results/quick/study_drag.json)")
    ap.add_argument("--grid", nargs="+", default=None, metavar="T0:ALPHA:CFG",
                    help="the grid experiment's points instead of the full grid (e.g. 0.3:1.3:3 for a check at "
                         "larger N: --n 200 --only grid --grid ... --out another JSON)")
    ap.add_argument("--weights", default=None,
                    help="a demo model's weights folder (default demo/weights): e.g. a candidate from "
                         "demo/train_demo_model.py --out DIR, with --only prior --out another JSON")
    ap.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=None,
                    help="redo only these experiments, keeping the others from the JSON at --out (same cases, seeds)")
    args = ap.parse_args(argv)
    args.out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    args.n = args.n or (3 if args.quick else 32)
    args.n_prior = args.n_prior or (6 if args.quick else 144)
    return args


class Study:
    def __init__(self, demo, args):
        self.demo, self.args = demo, args
        self.classifier = eval_demo.train_shape_classifier(demo)
        self.dragset = trials.DragSet(demo, SEEDS["drag_scenes"], args.n)
        self.rows, self.settings = {}, {}

    def drag(self, name: str, method: str, changes: dict, models=None, dragset=None) -> dict:
        """Run one setting (cached by name) on `dragset` (default: all cases) and return its summary."""
        dragset = dragset or self.dragset
        if name not in self.rows:
            s = {**PRESET, **changes}
            results, cost = trials.run_setting(self.demo, dragset, method, s, SEEDS["drag_sampler"], models)
            self.rows[name] = trials.measure(results, dragset, self.classifier)
            self.settings[name] = {"method": method, **s, **cost}
            print(f"  {name}: {cost['seconds_per_case'] * len(dragset):.0f} s", file=sys.stderr, flush=True)
        return {**self.settings[name], **trials.summarise(self.rows[name])}

    def pair(self, label: str, changes: dict, models=None, dragset=None) -> dict:
        sde = self.drag(f"SDE {label}", "sde", changes, models, dragset)
        ode = self.drag(f"ODE {label}", "ode", changes, models, dragset)
        return {"settings": {**PRESET, **changes}, "sde": sde, "ode": ode,
                "paired": trials.paired(self.rows[f"SDE {label}"], self.rows[f"ODE {label}"])}


def run_prior(demo, study: Study, args) -> dict:
    """Shape kept by SDEdit of unedited scenes, and prompted shape/colour from noise."""
    torch = demo.torch
    images, metas = scenes.generate_batch(SEEDS["prior_scenes"], args.n_prior, with_meta=True)
    images = images.permute(0, 2, 3, 1).numpy()
    latents = demo.encode(images)
    positive, negative = demo.cond_batch([m["prompt"] for m in metas]), demo.cond("")
    shapes = np.array([m["shape"] for m in metas])
    out = {"n": len(metas), "steps": PRESET["steps"], "cfg": PRESET["cfg"], "rows": {}}

    def kept(results, anywhere: bool):
        rows = []
        for img, m in zip(results, metas):
            ext = scenes.shape_extent(m["shape"], m["params"]["radius"])
            at, reach = ((scenes.IMAGE_SIZE / 2,) * 2, scenes.IMAGE_SIZE) if anywhere else (m["centroid"], ext)
            idn = em.identity(img, at, reach, study.classifier)
            rows.append((idn["shape"] == m["shape"], idn["colour"] == m["colour"]))
        return np.array(rows, bool)

    recon = demo.decode(latents)
    ref = kept(recon, False)
    out["rows"]["input (AE)"] = summary_by_shape(ref, shapes)
    for t0 in ((0.4, 0.6) if not args.quick else (0.6,)) + (1.0,):
        for eta, method in ((1.0, "SDE"), (0.0, "ODE")):
            with torch.no_grad():
                res, _ = demo.fresh_node.execute(demo.model, {"samples": latents}, eta, PRESET["steps"], t0,
                                                 SEEDS["prior_sampler"], positive=positive, negative=negative,
                                                 cfg=PRESET["cfg"])
            name = f"{method} {'from noise' if t0 == 1.0 else f'SDEdit t0 {t0:g}'}"
            out["rows"][name] = summary_by_shape(kept(demo.decode(res["samples"]), t0 == 1.0), shapes)
            print(f"  prior {name}", file=sys.stderr, flush=True)
    return out


def summary_by_shape(kept: np.ndarray, shapes: np.ndarray) -> dict:
    out = {"shape_kept": float(kept[:, 0].mean()), "colour_kept": float(kept[:, 1].mean())}
    out.update({f"shape_kept_{s}": float(kept[shapes == s, 0].mean()) for s in scenes.SHAPES if (shapes == s).any()})
    return out


def train_loras(demo, subset, steps: int, learning_rate: float) -> tuple[list, float]:
    """One identity LoRA per case of `subset` (the pack's node, seed 2400 + case); seconds per case."""
    node = demo.host.module("nodes.lora").SDEDragIdentityLoRA
    start = time.perf_counter()
    models = [node.execute(demo.model, demo.cond(case["prompt"]), LORA["rank"], steps, learning_rate, SEEDS["lora"] + i,
                           latent={"samples": subset.latents[i:i + 1]})[0] for i, case in enumerate(subset.cases)]
    seconds = (time.perf_counter() - start) / len(models)
    print(f"  lora: trained {len(models)} x {steps} steps ({seconds:.1f} s each)", file=sys.stderr, flush=True)
    return models, seconds


def run_lora(demo, study: Study, args) -> dict:
    steps = 2 if args.quick else LORA["steps"]
    subset = study.dragset.first(min(N_LORA, len(study.dragset)))
    models, train_s = train_loras(demo, subset, steps, LORA["learning_rate"])
    return {"lora": {**LORA, "steps": steps, "seed": f"{SEEDS['lora']} + case", "train_seconds_per_case": train_s,
                     "cases": len(subset)},
            "without": study.pair(f"first {len(subset)}, no LoRA, t0 0.6", {}, None, subset),
            "with": study.pair(f"first {len(subset)}, LoRA t0 0.6", {}, models, subset)}


def run_lora_cost(demo, study: Study, args) -> list[dict]:
    """Issue "Speed": fewer LoRA steps at a higher learning rate, SDE-Drag only, same cases."""
    subset = study.dragset.first(min(N_LORA, len(study.dragset)))
    out = []
    for steps, lr in ((2, 1e-3),) if args.quick else LORA_PLANS:
        models, train_s = train_loras(demo, subset, steps, lr)
        row = study.drag(f"SDE first {len(subset)}, LoRA {steps} steps lr {lr:g}, t0 0.6", "sde", {}, models, subset)
        out.append({"lora_steps": steps, "learning_rate": lr, "train_seconds_per_case": train_s, **row})
    return out


def run_eta(demo, study: Study, args) -> list[dict]:
    """The eta front: each inner eta against SDE-Drag (eta 1) and ODE-Drag on the same cases."""
    out = []
    for t0 in (0.6,) if args.quick else (0.4, 0.6):
        grid_label = f"t0 {t0:g} alpha 1.1 cfg 3"
        ends = study.pair(grid_label, {"t0": t0, "alpha": 1.1, "cfg": 3.0})
        out.append({"t0": t0, "eta": 1.0, **ends["sde"], "vs_ode": ends["paired"]})
        for eta in (0.5,) if args.quick else ETAS:
            row = study.drag(f"SDE eta {eta:g} t0 {t0:g}", "sde", {"t0": t0, "eta": eta})
            out.append({"t0": t0, "eta": eta, **row,
                        "vs_ode": trials.paired(study.rows[f"SDE eta {eta:g} t0 {t0:g}"], study.rows[f"ODE {grid_label}"]),
                        "vs_sde": trials.paired(study.rows[f"SDE eta {eta:g} t0 {t0:g}"], study.rows[f"SDE {grid_label}"])})
        out.append({"t0": t0, "eta": None, **ends["ode"]})
    return out


def run(args, demo, save) -> dict:
    """The experiments in order; `save(out)` after each, so a stopped run keeps what it measured."""
    study = Study(demo, args)
    out = {"timings": {}}
    if args.only and os.path.exists(args.out):  # keep what an earlier run measured; redo only the named experiments
        with open(args.out, encoding="utf-8") as f:
            earlier = json.load(f)
        out.update({k: earlier[k] for k in (*EXPERIMENTS, "timings") if k in earlier})
        study.rows.update(earlier.get("per_case", {}))
        study.settings.update(earlier["settings"])

    def step(name, fn):
        if args.only and name not in args.only:
            return
        t = time.perf_counter()
        out[name] = fn()
        out["timings"][f"{name}_s"] = time.perf_counter() - t
        out["per_case"] = study.rows
        out["settings"] = study.settings
        out["cases"] = study.dragset.case_json(SEEDS["drag_sampler"])
        save(out)

    def grid():
        if args.grid:
            points = [dict(zip(("t0", "alpha", "cfg"), map(float, p.split(":")))) for p in args.grid]
        else:
            points = list(QUICK_GRID) if args.quick else [
                {"t0": t0, "alpha": alpha, "cfg": cfg} for cfg in GRID_CFG for alpha in GRID_ALPHA for t0 in GRID_T0]
        return [{**p, **study.pair(f"t0 {p['t0']:g} alpha {p['alpha']:g} cfg {p['cfg']:g}", p)} for p in points]

    def steps():
        n = 60 if args.quick else 200
        return {"50": study.pair("t0 0.6 alpha 1.1 cfg 3", {"t0": 0.6, "alpha": 1.1, "cfg": 3.0}),
                str(n): study.pair(f"{n} steps t0 0.6", {"steps": n})}

    def cost():
        plans = COST_PLANS[2:4] if args.quick else COST_PLANS
        return [{"plan": name, "changes": changes, "rows_key": cost_rows_key(name),
                 **study.drag(cost_rows_key(name), "sde", changes)} for name, changes in plans]

    step("prior", lambda: run_prior(demo, study, args))
    step("grid", grid)
    step("steps", steps)
    step("cost", cost)
    step("lora", lambda: run_lora(demo, study, args))
    step("lora_cost", lambda: run_lora_cost(demo, study, args))
    step("eta", lambda: run_eta(demo, study, args))
    return out


# --------------------------------------------------------------------------- report


def f4(x):
    return f"{x:.4f}"


def ci(m, key="gt_l1_ae"):
    lo, hi = m[f"{key}_ci95"]
    return f"{m[key]:.4f} [{lo:.4f}, {hi:.4f}]"


def prior_table(prior: dict) -> str:
    shapes = [s for s in scenes.SHAPES if f"shape_kept_{s}" in prior["rows"]["input (AE)"]]
    head = ("| what | shape kept | " + " | ".join(f"{s} kept" for s in shapes) + " | colour kept |\n|"
            + "---|" * (3 + len(shapes)) + "\n")
    return head + "\n".join(f"| {name} | {eval_demo.pct(r['shape_kept'])} | "
                            + " | ".join(eval_demo.pct(r[f'shape_kept_{s}']) for s in shapes)
                            + f" | {eval_demo.pct(r['colour_kept'])} |" for name, r in prior["rows"].items())


def pair_row(label: str, p: dict) -> str:
    s, o, pc = p["sde"], p["ode"], p["paired"]
    gt = pc["gt_l1_ae_sde_lower"]
    return (f"| {label} | {ci(s)} | {ci(o)} | {gt['cases']}/{gt['of']} (p {gt['sign_test_p']:.2g}) | "
            f"{f4(s['dai_4'])} / {f4(o['dai_4'])} | {eval_demo.pct(s['shape_kept'])} / {eval_demo.pct(o['shape_kept'])} | "
            f"{s['successes']} / {o['successes']} | {s['unet_calls_per_case']:.0f} / {o['unet_calls_per_case']:.0f} |")


PAIR_HEAD = ("| setting | SDE: L1 to true moved (AE) [95 % CI] | ODE: same | SDE lower (sign test p) | DAI g=4 SDE / ODE | "
             "shape kept SDE / ODE | successes SDE / ODE | UNet calls per case SDE / ODE |\n"
             "|---|---|---|---|---|---|---|---|\n")


def lora_cost_table(out: dict) -> str:
    head = ("| identity LoRA | training s per case | L1 to true moved (AE) [95 % CI] | DAI g=4 | shape kept | "
            "successes |\n|---|---|---|---|---|---|\n")
    lo = out["lora"]
    rows = [("none", None, lo["without"]["sde"]), (f"{lo['lora']['steps']} steps, lr {lo['lora']['learning_rate']:g}",
                                                   lo["lora"]["train_seconds_per_case"], lo["with"]["sde"])]
    rows += [(f"{c['lora_steps']} steps, lr {c['learning_rate']:g}", c["train_seconds_per_case"], c)
             for c in out["lora_cost"]]
    return head + "\n".join(f"| {name} | {'-' if t is None else f'{t:.1f}'} | {ci(m)} | {f4(m['dai_4'])} | "
                            f"{eval_demo.pct(m['shape_kept'])} | {m['successes']} |" for name, t, m in rows)


def eta_table(rows: list[dict]) -> str:
    head = ("| t0 | method | L1 to true moved (AE) [95 % CI] | lower than ODE-Drag's (sign test p) | DAI g=4 | "
            "shape kept | successes | UNet calls per case |\n|---|---|---|---|---|---|---|---|\n")

    def name(r):
        return "ODE-Drag" if r["eta"] is None else ("SDE-Drag (eta 1)" if r["eta"] == 1.0 else f"Cycle eta {r['eta']:g}")

    def vs(r):
        if "vs_ode" not in r:
            return "-"
        g = r["vs_ode"]["gt_l1_ae_sde_lower"]
        return f"{g['cases']}/{g['of']} (p {g['sign_test_p']:.2g})"

    return head + "\n".join(f"| {r['t0']:g} | {name(r)} | {ci(r)} | {vs(r)} | {f4(r['dai_4'])} | "
                            f"{eval_demo.pct(r['shape_kept'])} | {r['successes']} | {r['unet_calls_per_case']:.0f} |"
                            for r in rows)


def cost_table(cost: list[dict], paper: dict) -> str:
    head = ("| SDE-Drag plan | UNet calls per case | share of 200 steps' calls | L1 to true moved (AE) [95 % CI] | "
            "DAI g=4 | shape kept | successes |\n|---|---|---|---|---|---|---|\n")
    base = paper["unet_calls_per_case"]
    return head + "\n".join(
        f"| {c['plan']} | {c['unet_calls_per_case']:.1f} | {c['unet_calls_per_case'] / base:.2f} | {ci(c)} | "
        f"{f4(c['dai_4'])} | {eval_demo.pct(c['shape_kept'])} | {c['successes']} |" for c in cost)


def report(out: dict) -> str:
    """The tables of the experiments in `out` (all of them after a full run; those redone with --only)."""
    parts = []
    if "prior" in out:
        parts += [f"## Cause 1, the prior: unedited scenes (N = {out['prior']['n']}, {PRESET['steps']} steps, cfg "
                  f"{PRESET['cfg']:g})\n", prior_table(out["prior"])]
    if "grid" in out:
        parts += ["\n## Causes 5 and 6: t0, alpha, cfg (50 steps)\n", PAIR_HEAD + "\n".join(
            pair_row(f"t0 {g['t0']:g}, alpha {g['alpha']:g}, cfg {g['cfg']:g}", g) for g in out["grid"])]
    if "steps" in out:
        parts += ["\n## Cause 2, steps (t0 0.6, alpha 1.1, cfg 3)\n",
                  PAIR_HEAD + "\n".join(pair_row(f"{k} steps", v) for k, v in out["steps"].items())]
    if "lora" in out:
        lo = out["lora"]["lora"]
        parts += [f"\n## Cause 3, identity LoRA (rank {lo['rank']}, {lo['steps']} steps, lr {lo['learning_rate']:g}; "
                  f"{lo['train_seconds_per_case']:.1f} s per case to train; t0 0.6, 50 steps; the first {lo['cases']} "
                  f"cases)\n",
                  PAIR_HEAD + pair_row("no LoRA", out["lora"]["without"]) + "\n" + pair_row("identity LoRA", out["lora"]["with"])]
    if "lora" in out and "lora_cost" in out:
        parts += ["\n## Identity LoRA cost: fewer steps at a higher learning rate (SDE-Drag, same 16 cases)\n",
                  lora_cost_table(out)]
    if "eta" in out:
        parts += ["\n## Beyond the two ends: Cycle-SDE with DDIM's eta (50 steps, alpha 1.1, cfg 3)\n",
                  eta_table(out["eta"])]
    if "cost" in out:
        paper = next((c for c in out["cost"] if c["plan"] == "200 steps"), out["cost"][0])
        parts += ["\n## Cost: SDE-Drag plans against model calls\n", cost_table(out["cost"], paper)]
    return "\n".join(parts)


def weights_id(weights_dir: str | None) -> dict:
    """The demo weights measured: their folder and each file's SHA-256."""
    folder = os.path.abspath(weights_dir or os.path.join(ROOT, "demo", "weights"))
    return {"dir": os.path.relpath(folder, ROOT),
            "sha256": {f: eval_demo.sha256(os.path.join(folder, f)) for f in sorted(os.listdir(folder))
                       if f.endswith(".safetensors")}}


def main(argv=None):
    import torch

    with torch.inference_mode():
        return _main(parse_args(argv), argv)


def _main(args, argv):
    import torch

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    demo = eval_demo.Demo(args.weights)
    argv_shown = sys.argv[1:] if argv is None else list(argv)
    head = {
        "command": shlex.join([".venv/bin/python", "-m", "studies.study_drag", *argv_shown]),
        "mode": "quick" if args.quick else "full", "n": args.n,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "python": platform.python_version(), "device": "cpu"},
        "seeds": SEEDS, "preset": PRESET, "weights": weights_id(args.weights)}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if args.only and os.path.exists(args.out):  # the JSON stays the full run's, and says which experiments a later call redid
        with open(args.out, encoding="utf-8") as f:
            earlier = json.load(f)
        head.update(command=earlier["command"], date=earlier["date"],
                    amended_by=[*earlier.get("amended_by", []), {"command": head["command"], "date": head["date"],
                                                                 "experiments": list(args.only)}])

    def save(out, complete=False):
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({**head, "complete": complete, **out, "total_s": time.perf_counter() - t_start}, f, indent=1)

    out = run(args, demo, save)
    save(out, complete=True)
    result = {**head, **out, "total_s": time.perf_counter() - t_start}
    print(f"# Why SDE-Drag loses on the demo model: the causes, one experiment each\n\n`{result['command']}` "
          f"({result['mode']}, N = {args.n} drag cases, {result['total_s']:.0f} s, {torch.get_num_threads()} torch "
          f"threads)\n")
    print(report(out))
    print(f"\nwrote {os.path.relpath(os.path.abspath(args.out), ROOT)}")
    return result


if __name__ == "__main__":
    main()
