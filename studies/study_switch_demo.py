"""The demo-model arm of issue 28's confirmatory study: the same hypotheses as the exact-score
run (``study_switch.py``), on the embedded demo model through the pack's SDE Drag node in ComfyUI.

    .venv/bin/python -m studies.study_switch_demo --jobs 2     # the confirmatory run (pre-registered N, seeds)
    .venv/bin/python -m studies.study_switch_demo --pilot      # the pilot that sized it (its own seeds)
    .venv/bin/python -m studies.study_switch_demo --quick      # a smoke run (about a minute), results/quick/
    .venv/bin/python -m studies.study_switch_demo --report [JSON]   # the tables of a run's JSON, run nothing

The plan, fixed before the confirmatory run: ``benchmarks/preregistration/2026-12-08-switch-demo.md``.

The drags: N seeded scenes of the demo world (``eval_measures.drag_cases``: one object dragged
10-16 px in a random direction, prompt = the scene's prompt, mask = the box around both positions
+ 4 px), each arm through the SDE Drag node with case i at sampler seed + i. The arms vary what
the presets vary (steps, t0, the method, the eta schedule) and keep the demo's geometry: r 3 and
step_size 2 latent cells (the demo templates' 12 and 8 in 64ths of the 16-cell side), cfg 3,
alpha 1.1, beta 0.3. The switch arms run the node with ``drag_trials.node_at_switch``.

Per-case measures (lower is better for both):
- placement ``P``: the object's centroid error to the target in px (``demo.metrics.drag_report``);
  a result with no pixel of the object's colour scores the image diagonal, 90.5 px;
- realism ``R``: the Mahalanobis distance of the result's local latent statistics
  (``eval_measures.local_statistics`` of the demo encoder's latents, 32 numbers) from those of
  ``N_FRESH`` fresh scenes through the autoencoder (their mean and covariance). Fresh scenes
  themselves score about sqrt(32) = 5.7, so 0 is not the ideal; the run reports the score of
  other fresh scenes (null) and of the unblended pasted square (positive control) beside it.
Recorded, no tests: success, ``gt_l1_ae``, ``dai_4``, ``shape_iou``, ``left_at_source``.

Writes benchmarks/results/confirmatory-switch-demo.json (pilot: pilot-switch-demo.json): per-case
rows, the margins, every test with its raw and Holm-corrected p-value and the decisions.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time

import numpy as np

from studies import drag_trials as trials
from studies import eval_measures as em
from studies import study_switch as exact
from studies.eval_measures import scenes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREREGISTRATION = os.path.join(ROOT, "benchmarks", "preregistration", "2026-12-08-switch-demo.md")
OUT = {"confirmatory": os.path.join(ROOT, "benchmarks", "results", "confirmatory-switch-demo.json"),
       "pilot": os.path.join(ROOT, "benchmarks", "results", "pilot-switch-demo.json"),
       "quick": os.path.join(ROOT, "benchmarks", "results", "quick", "confirmatory-switch-demo.json")}
SEEDS = {  # 2026-12-08: never used in the repository before (grep 20261208 found nothing)
    "pilot": {"scenes": 2026120801, "fresh": 2026120802, "sampler": 2026120803},
    "confirmatory": {"scenes": 2026120811, "fresh": 2026120812, "sampler": 2026120813},
    "quick": {"scenes": 2026120891, "fresh": 2026120892, "sampler": 2026120893},
}
GEOMETRY = {"r": trials.PRESETS.DEMO["r"], "step_size": trials.PRESETS.DEMO["step_size"], "cfg": trials.PRESETS.DEMO["cfg"]}
MEASURES = ("P", "R")
N_FRESH = 512
NO_OBJECT_PX = math.hypot(scenes.IMAGE_SIZE, scenes.IMAGE_SIZE)  # placement of a result that lost its object
CHUNK = 8
# Pre-registered (benchmarks/preregistration/2026-12-08-switch-demo.md): filled from the pilot, then frozen.
N_CONFIRMATORY = 320  # set by the compute budget (~75 min); the power it buys is in the pre-registration
SWITCH_POINTS = (0.25, 0.5)
MARGIN_P = 0.14655   # 5 % of the pilot's paper-preset (SDE-Drag) mean P, 2.931 px
MARGIN_R = 0.294111  # 5 % of the pilot's paper-preset mean R, 5.882
ALPHA = exact.ALPHA


def arms(mode):
    """name -> settings (method, steps, t0, switch, ode_first, r, step_size, cfg, alpha, beta):
    the exact-score run's arms with the demo's geometry."""
    out = {name: {**s, **GEOMETRY} for name, s in exact.arms("confirmatory").items()
           if name != "reverse_0.5"}  # the exploratory control: not run here (its cost buys N)
    if mode == "quick":
        out = {k: {**v, "steps": 10 if v["steps"] == trials.PRESETS.PAPER["steps"] else 5} for k, v in out.items()}
    return out


class DemoRunner:
    """The demo model in ComfyUI, N drag cases of one seed set, the shape classifier and the
    fresh scenes' local statistics; runs an arm over a range of cases."""

    def __init__(self, n, seeds, host=None):
        from studies.eval_demo import Demo, train_shape_classifier

        self.demo = Demo(host=host)
        self.n, self.seeds = n, seeds
        self.dragset = trials.DragSet(self.demo, seeds["scenes"], n)
        self.classifier = train_shape_classifier(self.demo)
        fresh = self.local_statistics(self.fresh_scenes(seeds["fresh"]))
        self.mean = fresh.mean(0)
        cov = np.cov(fresh, rowvar=False)
        self.precision = np.linalg.inv(cov + 1e-6 * np.trace(cov) / len(cov) * np.eye(len(cov)))

    def fresh_scenes(self, seed, n=N_FRESH):
        images, _ = scenes.generate_batch(seed, n)
        return self.demo.roundtrip(images.permute(0, 2, 3, 1).numpy())

    def local_statistics(self, images):
        return em.local_statistics(self.demo.encode(images).double().numpy())

    def realism(self, images):
        """R per image: sqrt((f - m)^T S^-1 (f - m)), f its local latent statistics, m and S the
        fresh scenes' mean and (ridged) covariance."""
        d = self.local_statistics(images) - self.mean
        return np.sqrt(np.einsum("ni,ij,nj->n", d, self.precision, d))

    def measure(self, images, dragset):
        rows = trials.measure(images, dragset, self.classifier)
        p = [NO_OBJECT_PX if not math.isfinite(r["centroid_error_px"]) else r["centroid_error_px"] for r in rows]
        return {"P": p, "R": self.realism(images).tolist(), "success": [bool(r["success"]) for r in rows],
                **{k: [r[k] for r in rows] for k in ("gt_l1_ae", "dai_4", "shape_iou", "left_at_source")}}

    def run(self, settings, start, stop):
        """Rows of cases start..stop-1 of one arm, case i at sampler seed + i."""
        demo, part = self.demo, self.dragset.part(start, stop)
        if settings["switch"] is None:
            node = demo.drag_node
        else:
            node = trials.node_at_switch(demo, settings["switch"], settings["ode_first"])
        t = time.perf_counter()
        images, cost = trials.run_node(demo, node, part, settings["method"], settings, self.seeds["sampler"] + start)
        return {**self.measure(images, part), "seconds": time.perf_counter() - t, "calls": cost["unet_calls_per_case"]}

    def references(self):
        """The realism measure's controls at this N: other fresh scenes (must score like the fresh
        reference) and each case's input with the drag's square pasted unblended (must score worse)."""
        from studies.eval_demo import pasted_squares

        null = self.realism(self.fresh_scenes(self.seeds["fresh"] + 1, self.n))
        pasted = pasted_squares(self.demo, self.dragset.cases)
        return {"fresh scenes (null)": {"R": null.tolist()},
                "pasted square, unblended (positive control)": self.measure(pasted, self.dragset),
                "input, no edit (AE)": self.measure(self.dragset.recon, self.dragset),
                "true moved scene (AE)": self.measure(self.dragset.moved_recon, self.dragset)}


RUNNER = None  # the forked workers' runner (set before the pool forks)


def _task(name, settings, start, stop):
    return name, start, RUNNER.run(settings, start, stop)


def run_arms(runner, plan, jobs):
    """Every (arm, chunk of CHUNK cases) task, in `jobs` forked processes when > 1 (each case has
    its own seed, so the rows do not depend on jobs); the costliest tasks first."""
    global RUNNER
    RUNNER = runner
    tasks = [(name, s, i, min(i + CHUNK, runner.n)) for name, s in plan.items() for i in range(0, runner.n, CHUNK)]
    tasks.sort(key=lambda t: -t[1]["steps"] * t[1]["t0"])
    parts = {name: {} for name in plan}
    if jobs > 1:
        import concurrent.futures
        import multiprocessing

        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            for future in concurrent.futures.as_completed([pool.submit(_task, *t) for t in tasks]):
                name, start, rows = future.result()
                parts[name][start] = rows
                print(f"  {name} cases {start}.. ({rows['seconds']:.0f} s)", file=sys.stderr, flush=True)
    else:
        for t in tasks:
            name, start, rows = _task(*t)
            parts[name][start] = rows
    results = {}
    for name, chunks in parts.items():
        ordered = [chunks[k] for k in sorted(chunks)]
        rows = {k: [v for c in ordered for v in c[k]] for k in ordered[0] if k not in ("seconds", "calls")}
        results[name] = {"settings": plan[name], "seconds": sum(c["seconds"] for c in ordered),
                         "unet_calls_per_case": float(np.mean([c["calls"] for c in ordered])), "rows": rows}
    return results


def summary(values):
    return exact.summary([float(v) for v in values])


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="a smoke run: N 4, 10 steps")
    group.add_argument("--pilot", action="store_true", help="the pilot on its own seeds (sizes the confirmatory run)")
    ap.add_argument("--n", type=int, default=None, help="cases (default: the pre-registered N; pilot 24; quick 4)")
    ap.add_argument("--jobs", type=int, default=1, help="processes (same rows for any number)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    args.mode = "quick" if args.quick else ("pilot" if args.pilot else "confirmatory")
    args.n = args.n or {"quick": 4, "pilot": 24, "confirmatory": N_CONFIRMATORY}[args.mode]
    if args.n is None:
        ap.error("N_CONFIRMATORY is not set yet: run --pilot and fill the pre-registration first.")
    args.out = args.out or OUT[args.mode]
    return args


def main(argv=None, host=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--report"]:
        with open(argv[1] if len(argv) > 1 else OUT["confirmatory"]) as f:
            print(report_tables(json.load(f)))
        return None
    args = parse_args(argv)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread a process: jobs use the cores (a test's process gets its own back)
    try:
        return _main(args, argv, host)
    finally:
        torch.set_num_threads(threads)


def _main(args, argv, host):
    t_start = time.perf_counter()
    runner = DemoRunner(args.n, SEEDS[args.mode], host=host)
    plan = arms(args.mode)
    results = run_arms(runner, plan, args.jobs)
    references = runner.references()
    out = {"command": "python " + " ".join(shlex.quote(a) for a in ["-m", "studies.study_switch_demo", *argv]),
           "mode": args.mode, "n": args.n, "seeds": SEEDS[args.mode], "chunk": CHUNK,
           "preregistration": os.path.relpath(PREREGISTRATION, ROOT),
           "model": {"what": "the embedded demo model (demo/weights) through the SDE Drag node in ComfyUI",
                     "latent": "16x16x4 for 64x64 px", "geometry": GEOMETRY, "n_fresh": N_FRESH,
                     "no_object_px": NO_OBJECT_PX},
           "presets": {"PAPER": trials.PRESETS.PAPER, "FAST": trials.PRESETS.FAST},
           "references": {name: {k: summary(v) for k, v in rows.items()} for name, rows in references.items()},
           "arms": {name: {**{k: v for k, v in r.items() if k != "rows"},
                           "summary": {k: summary(v) for k, v in r["rows"].items()}} for name, r in results.items()},
           "cases": runner.dragset.case_json(SEEDS[args.mode]["sampler"]),
           "rows": {name: r["rows"] for name, r in results.items()},
           "reference_rows": references}
    paper = {m: float(np.mean(results["sde_paper"]["rows"][m])) for m in MEASURES}
    if args.mode == "confirmatory":
        margins = {"MARGIN_P": MARGIN_P, "MARGIN_R": MARGIN_R}
    else:
        margins = {f"MARGIN_{m}": 0.05 * paper[m] for m in MEASURES}
    out["alpha"], out["margins"] = ALPHA, margins
    out["margins_from_this_run"] = {f"MARGIN_{m}": 0.05 * paper[m] for m in MEASURES}
    out["switch_points"] = list(SWITCH_POINTS)
    tests = exact.test_family(results, SWITCH_POINTS, margins, measures=MEASURES)
    out["tests"], out["decisions"] = tests, exact.decisions(tests, SWITCH_POINTS)
    if args.mode == "confirmatory":
        with open(OUT["pilot"]) as f:
            pilot = json.load(f)["rows"]
        pilot = {k: {"rows": v} for k, v in pilot.items()}
    else:
        pilot = results
    out["power_plan_from_pilot"] = exact.power_plan(pilot, SWITCH_POINTS, margins, len(tests), args.n,
                                                    measures=MEASURES)
    for t in tests:
        print(f"{t['id']:40s} mean diff {t['mean_difference']:+8.4f} (margin {t['margin']:.4f})  "
              f"p {t['p_raw']:.2e}  Holm {t['p_holm']:.2e}  {'SUPPORTED' if t['supported'] else 'not supported'}")
    out["timings"] = {"total_s": time.perf_counter() - t_start, "jobs": args.jobs, "machine": platform.platform()}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {args.out} ({out['timings']['total_s']:.0f} s)")
    return out


def report_tables(run):
    """The arms (means ± 95 % intervals), the realism measure's controls, then the tests."""
    def cell(m, digits=2):
        return f"{m['mean']:.{digits}f} ± {m['ci95']:.{digits}f}"

    lines = ["| arm | steps / t0 | P: centroid error (px) | R: realism distance | success | gt_l1_ae | UNet calls "
             "per case |", "|---|---|---|---|---|---|---|"]
    for name, ref in run["references"].items():
        p = cell(ref["P"]) if "P" in ref else "-"
        extra = (f"{ref['success']['mean']:.2f} | {ref['gt_l1_ae']['mean']:.4f}" if "success" in ref else "- | -")
        lines.append(f"| {name} | - | {p} | {cell(ref['R'])} | {extra} | - |")
    for name, arm in run["arms"].items():
        st, sm = arm["settings"], arm["summary"]
        lines.append(f"| {name} | {st['steps']} / {st['t0']:g} | {cell(sm['P'])} | {cell(sm['R'])} | "
                     f"{sm['success']['mean']:.2f} | {sm['gt_l1_ae']['mean']:.4f} | {arm['unet_calls_per_case']:.0f} |")
    tests = ["| hypothesis | mean A - B [95 % CI] | margin | Wilcoxon p | Holm p | sign test: below / nonzero (p) | "
             "decision |", "|---|---|---|---|---|---|---|"]
    for t in run["tests"]:
        lo, hi = t["mean_difference"] - t["mean_difference_ci95"], t["mean_difference"] + t["mean_difference_ci95"]
        tests.append(f"| {t['claim']} ({t['measure']}) | {t['mean_difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] | "
                     f"{t['margin']:.4g} | {exact.fmt_p(t['p_raw'])} | {exact.fmt_p(t['p_holm'])} | "
                     f"{t['sign']['below']} / {t['sign']['n_nonzero']} ({exact.fmt_p(t['sign']['p'])}) | "
                     f"{'**supported**' if t['supported'] else 'not shown'} |")
    return "\n".join(lines) + "\n\n" + "\n".join(tests)


if __name__ == "__main__":
    main()
