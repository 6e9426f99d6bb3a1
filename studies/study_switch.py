"""The pre-registered confirmatory run of issue 28 on the exact-score model at the paper's scale.

    .venv/bin/python -m studies.study_switch --jobs 2   # the confirmatory run (pre-registered N, seeds)
    .venv/bin/python -m studies.study_switch --pilot    # the pilot that sized it (its own seeds, never reused)
    .venv/bin/python -m studies.study_switch --quick    # a smoke run (seconds), results/quick/
    .venv/bin/python -m studies.study_switch --report [JSON]   # docs/findings-switch.md's tables, run nothing

The plan, fixed before the confirmatory run: ``benchmarks/preregistration/2026-12-07-switch.md``.

The model (``studies/exact_mixture.py``): 64x64 one-channel latents (SD1.5's latent size for
512 px) of an 8x8 square object (height 2) at any of the 4096 cells on a stationary Gaussian
texture (unit variance, correlation ~1.5 cells). The paper's r 5 copies a 10x10 patch, which
holds the 8x8 object with one cell to spare on each side (as r 3's 6x6 patch holds the 4x4
object of the 16x16 model in ``eval_exact.py``). Every denoiser call is exact.

The drag: N scenes with the object at ``SOURCE``, dragged 12 cells to ``TARGET``, run with
sde_core's functions (``exact_mixture.drag``) on SD1.5's VP schedule, no mask, each arm with its
preset's own r, step_size, alpha, beta, steps and t0 (``nodes/presets.py``; cfg does not apply:
the model has no prompt). Case i is the same input scene in every arm, and every arm draws its
noise from the same sampler seed, chunk by chunk (``CHUNK`` cases per batch).

Per-case measures (lower is better for both):
- placement: ``L1``, the posterior-expected L1 (Manhattan, periodic) distance in latent cells
  of the result's object to the target, ``sum_p r_p(result) |p - target|_1``, with ``r_p`` the
  exact component posterior at sigma 0;
- realism: ``R = |log p_0(result) - mean_fresh| / sd_fresh``, the exact log-likelihood's
  distance from that of fresh data (the object at the target) in units of the fresh data's
  spread (the loglik gap of ``eval_exact.py``, per case; fresh data score E R ~ 0.8).

Writes benchmarks/results/confirmatory-switch.json (pilot: pilot-switch.json): per-case rows,
the margins, every test with its raw and Holm-corrected p-value and the decision.
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
import torch

from harness import plain_module
from studies import exact_mixture as em
from studies import paired_tests as pt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


PRESETS = plain_module("nodes/presets.py")  # the pack's presets, defined once
PREREGISTRATION = os.path.join(ROOT, "benchmarks", "preregistration", "2026-12-07-switch.md")
OUT = {"confirmatory": os.path.join(ROOT, "benchmarks", "results", "confirmatory-switch.json"),
       "pilot": os.path.join(ROOT, "benchmarks", "results", "pilot-switch.json"),
       "quick": os.path.join(ROOT, "benchmarks", "results", "quick", "confirmatory-switch.json")}
SCENE = {"size": 64, "side": 8, "amplitude": 2.0, "correlation": 1.5}
SOURCE, TARGET = (26, 32), (38, 32)
N_FRESH = 512
CHUNK = 50
SEEDS = {  # 2026-12-07: never used in the repository before (grep 2026120 found nothing)
    "pilot": {"scenes": 2026120701, "fresh": 2026120702, "sampler": 2026120703},
    "confirmatory": {"scenes": 2026120711, "fresh": 2026120712, "sampler": 2026120713},
    "quick": {"scenes": 2026120791, "fresh": 2026120792, "sampler": 2026120793},
}
# Pre-registered (benchmarks/preregistration/2026-12-07-switch.md): filled from the pilot, then frozen.
N_CONFIRMATORY = 600   # set by the compute budget (~45 min); the power it buys is in the pre-registration
SWITCH_POINTS = (0.25, 0.5)
MARGIN_L1 = 0.13125    # 5 % of the pilot's paper-preset (SDE-Drag) mean L1, 2.625 cells
MARGIN_R = 0.0396      # 5 % of the pilot's paper-preset (SDE-Drag) mean R, 0.7927
ALPHA = 0.05
MEASURES = ("L1", "R")  # placement, realism: the names the hypotheses, rows and margins use
PILOT_SWITCH_POINTS = (0.25, 0.5, 0.75, 0.9)


def arms(mode):
    """The arms: name -> settings (method, steps, t0, the switch point, ode_first, r, step_size,
    alpha, beta). Pilot: every switch point in 0.25..0.9 both ways; confirmatory: the
    pre-registered ones."""
    paper, fast = PRESETS.PAPER, PRESETS.FAST

    def arm(preset, method="sde", t0=None, switch=None, ode_first=True):
        return {"method": method, "steps": preset["steps"], "t0": preset["t0"] if t0 is None else t0,
                "switch": switch, "ode_first": ode_first, "r": preset["r"], "step_size": preset["step_size"],
                "alpha": preset["alpha"], "beta": preset["beta"]}

    out = {"sde_paper": arm(paper), "ode_paper": arm(paper, "ode"), "sde_t0.4": arm(paper, t0=0.4),
           "ode_t0.4": arm(paper, "ode", t0=0.4), "sde_fast": arm(fast)}
    if mode == "pilot":
        points = (0.25, 0.5, 0.75, 0.9)
        out.update({f"switch_{s:g}": arm(paper, switch=s) for s in points})
        out.update({f"reverse_{s:g}": arm(paper, switch=s, ode_first=False) for s in points})
    else:
        points = SWITCH_POINTS if mode == "confirmatory" else (0.5,)
        out.update({f"switch_{s:g}": arm(paper, switch=s) for s in points})
        out["reverse_0.5"] = arm(paper, switch=0.5, ode_first=False)  # the control, exploratory (no test)
    if mode == "quick":
        out = {k: {**v, "steps": 10 if v["steps"] == paper["steps"] else 5} for k, v in out.items()}
    return out


def hypotheses(switch_points, placement="L1", realism="R"):
    """The confirmatory family: (id, claim, measure, A, B, margin name). Each tests
    ``H1: location(A - B) < margin`` on a lower-is-better measure; ``placement`` and ``realism``
    name the two measures (the exact-score model's L1 and R; the demo model's P and R,
    ``studies/study_switch_demo.py``), and each margin is named ``MARGIN_<measure>``."""
    family = []
    margin_p, margin_r = f"MARGIN_{placement}", f"MARGIN_{realism}"
    for s in switch_points:
        sw = f"switch_{s:g}"
        family += [
            (f"{sw}_places_better_than_sde", f"switch {s:g} places better than SDE-Drag", placement, sw, "sde_paper", None),
            (f"{sw}_places_no_worse_than_ode", f"switch {s:g} places no worse than ODE-Drag (margin)", placement, sw,
             "ode_paper", margin_p),
            (f"{sw}_more_realistic_than_ode", f"switch {s:g} is more realistic than ODE-Drag", realism, sw, "ode_paper",
             None),
            (f"{sw}_no_less_realistic_than_sde", f"switch {s:g} is no less realistic than SDE-Drag (margin)", realism,
             sw, "sde_paper", margin_r),
        ]
    for t0, sde, ode in ((0.6, "sde_paper", "ode_paper"), (0.4, "sde_t0.4", "ode_t0.4")):
        family += [
            (f"ode_places_better_t0_{t0:g}", f"ODE-Drag places better than SDE-Drag at t0 {t0:g}", placement, ode, sde,
             None),
            (f"sde_more_realistic_t0_{t0:g}", f"SDE-Drag is more realistic than ODE-Drag at t0 {t0:g}", realism, sde,
             ode, None),
        ]
    family += [
        ("fast_places_no_worse", "FAST places no worse than the paper preset (margin)", placement, "sde_fast",
         "sde_paper", margin_p),
        ("fast_no_less_realistic", "FAST is no less realistic than the paper preset (margin)", realism, "sde_fast",
         "sde_paper", margin_r),
    ]
    return family


class Runner:
    """N input scenes and the fresh reference of one seed set; runs an arm over every case."""

    def __init__(self, n, seeds):
        self.scenes = em.TexturedObjectScenes(**SCENE)
        self.n, self.seeds = n, seeds
        self.inputs = self.scenes.sample(n, torch.Generator().manual_seed(seeds["scenes"]), points=SOURCE)
        fresh = self.scenes.sample(N_FRESH, torch.Generator().manual_seed(seeds["fresh"]), points=TARGET)
        lp = self.scenes.log_prob(fresh)
        self.fresh_mean, self.fresh_sd = lp.mean().item(), lp.std().item()
        size = self.scenes.size
        cells = torch.arange(size, dtype=em.DTYPE)
        dx = (cells[None, :] - TARGET[0]).abs()
        dy = (cells[:, None] - TARGET[1]).abs()
        self.l1_to_target = torch.minimum(dx, size - dx) + torch.minimum(dy, size - dy)  # [y, x]
        signed = (cells - TARGET[0] + size / 2) % size - size / 2  # periodic x offset of each column, in [-n/2, n/2)
        self.x_offset = signed[None, :].expand(size, size)
        self.fresh = self.measure(fresh)

    def measure(self, results):
        """Per-result measures: L1 (placement), R (realism), and for the record the target's
        weight, the posterior-expected x offset from the target (cells; the drag runs along +x,
        so negative = short of the target) and the log-likelihood."""
        post = self.scenes.component_posterior(results, 0.0)
        lp = self.scenes.log_prob(results)
        return {"L1": (post * self.l1_to_target).flatten(1).sum(1).tolist(),
                "R": ((lp - self.fresh_mean).abs() / self.fresh_sd).tolist(),
                "target_weight": post[:, TARGET[1], TARGET[0]].tolist(),
                "x_offset": (post * self.x_offset).flatten(1).sum(1).tolist(),
                "log_prob": lp.tolist()}

    def run(self, settings):
        sigmas = em.drag_sigmas(settings["steps"], settings["t0"])
        n_steps = len(sigmas) - 1
        if settings["switch"] is None:
            eta = 1.0
        else:
            eta = em.sde_core.switch_etas(n_steps, settings["switch"], settings["ode_first"])
        generator = torch.Generator().manual_seed(self.seeds["sampler"])
        counter, rows, start = {}, {"L1": [], "R": [], "target_weight": [], "x_offset": [], "log_prob": []}, time.perf_counter()
        for first in range(0, self.n, CHUNK):
            out = em.drag(self.scenes.denoiser(counter=counter), self.inputs[first:first + CHUNK], SOURCE, TARGET,
                          sigmas, method=settings["method"], eta=eta, r=settings["r"], alpha=settings["alpha"],
                          beta=settings["beta"], step_size=settings["step_size"], generator=generator)
            for key, values in self.measure(out).items():
                rows[key] += values
        return {"settings": settings, "denoising_steps": n_steps,
                "etas": None if settings["switch"] is None else {"ode_steps": eta.count(0.0), "sde_steps": eta.count(1.0)},
                "subdrags": len(em.sde_core.plan_subdrags([SOURCE], [TARGET], settings["step_size"])),
                "calls_per_chunk": counter["calls"] // math.ceil(self.n / CHUNK), "seconds": time.perf_counter() - start,
                "rows": rows}


def summary(values):
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "ci95": float(1.96 * v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0}


def test_family(results, switch_points, margins, alpha=ALPHA, measures=("L1", "R")):
    """Every hypothesis: paired differences A - B per case, the Wilcoxon test (primary) and the
    sign test (secondary) against the margin, then Holm over the family's Wilcoxon p-values;
    ``supported`` when the Holm-adjusted p < alpha."""
    tests = []
    for hid, claim, measure, a, b, margin_name in hypotheses(switch_points, *measures):
        margin = 0.0 if margin_name is None else margins[margin_name]
        d = np.asarray(results[a]["rows"][measure]) - np.asarray(results[b]["rows"][measure])
        tests.append({"id": hid, "claim": claim, "measure": measure, "a": a, "b": b,
                      "kind": "superiority" if margin_name is None else "non-inferiority",
                      "margin_name": margin_name, "margin": margin,
                      "mean_difference": float(d.mean()), "mean_difference_ci95": summary(d)["ci95"],
                      "sd_difference": summary(d)["sd"],
                      "wilcoxon": pt.wilcoxon_lower(d, margin), "sign": pt.sign_test_lower(d, margin)})
    adjusted = pt.holm([t["wilcoxon"]["p"] for t in tests])
    for t, p in zip(tests, adjusted):
        t["p_raw"], t["p_holm"] = t["wilcoxon"]["p"], p
        t["supported"] = p < alpha
    return tests


def decisions(tests, switch_points):
    """The pre-registered rules: a switch point beats both ends when all four of its hypotheses
    are supported; FAST is the paper preset's quality when both of its are; SDE vs ODE per t0."""
    by_id = {t["id"]: t["supported"] for t in tests}
    out = {}
    for s in switch_points:
        sw = f"switch_{s:g}"
        mine = [k for k in by_id if k.startswith(sw + "_")]
        out[sw] = {"beats_both_ends": all(by_id[k] for k in mine), "supported": {k: by_id[k] for k in mine}}
    out["fast_is_paper_quality"] = by_id["fast_places_no_worse"] and by_id["fast_no_less_realistic"]
    for t0 in (0.6, 0.4):
        out[f"t0_{t0:g}"] = {"ode_places_better": by_id[f"ode_places_better_t0_{t0:g}"],
                             "sde_more_realistic": by_id[f"sde_more_realistic_t0_{t0:g}"]}
    return out


def power_plan(results, switch_points, margins, m, n=None, alpha=ALPHA, power=0.8, measures=("L1", "R")):
    """The sample size per hypothesis from these (pilot) differences: the N at which a one-sided
    Wilcoxon test at alpha / m (Bonferroni, conservative for Holm) has ``power`` when the true
    difference sits one margin inside the rejection side (superiority: a true improvement of one
    margin; non-inferiority: a true difference of 0), with the sd of the paired differences."""
    plan = []
    for hid, _claim, measure, a, b, margin_name in hypotheses(switch_points, *measures):
        shift = margins[f"MARGIN_{measure}"]
        d = np.asarray(results[a]["rows"][measure]) - np.asarray(results[b]["rows"][measure])
        sd = float(d.std(ddof=1))
        row = {"id": hid, "kind": "superiority" if margin_name is None else "non-inferiority", "sd_difference": sd,
               "shift": shift, "mean_difference": float(d.mean()),
               "n_required": pt.paired_n(sd, shift, alpha / m, power) if sd > 0 else 2}
        if n is not None:
            row["n"] = n
            row["power_at_n_against_the_margin"] = pt.paired_power(n, sd, shift, alpha / m)
            if margin_name is None:  # a more realistic planning value: half the pilot's own improvement
                row["power_at_n_against_half_the_pilot_effect"] = pt.paired_power(n, sd, max(-d.mean(), 0.0) / 2, alpha / m)
        plan.append(row)
    return plan


def fmt_p(p):
    """A p-value for a table; 0 is what 0.5 (1 + erf) underflows to below about 1e-16."""
    return "< 1e-16" if p == 0 else f"{p:.2g}"


def report_tables(run):
    """docs/findings-switch.md's tables from a run's JSON: the arms, then the tests."""
    def cell(m, digits=3):
        return f"{m['mean']:.{digits}f} ± {m['ci95']:.{digits}f}"

    lines = ["| arm | steps / t0 | ODE steps + SDE steps | L1 to target (cells) | R (realism) | target weight | "
             "x offset (cells) | seconds |", "|---|---|---|---|---|---|---|---|"]
    ref = run["reference_fresh_data"]
    lines.append(f"| fresh data (object at the target) | - | - | {cell(ref['L1'])} | {cell(ref['R'])} | "
                 f"{cell(ref['target_weight'])} | {cell(ref['x_offset'], 2)} | - |")
    for name, arm in run["arms"].items():
        st, sm = arm["settings"], arm["summary"]
        split = (f"{arm['etas']['ode_steps']} + {arm['etas']['sde_steps']}" if arm["etas"] else
                 ("0 + " if st["method"] == "sde" else "ODE-Drag: ") + str(arm["denoising_steps"]))
        lines.append(f"| {name} | {st['steps']} / {st['t0']:g} | {split} | {cell(sm['L1'])} | {cell(sm['R'])} | "
                     f"{cell(sm['target_weight'])} | {cell(sm['x_offset'], 2)} | {arm['seconds']:.0f} |")
    tests = ["| hypothesis | mean A - B [95 % CI] | margin | Wilcoxon p | Holm p | sign test: below / nonzero (p) | "
             "decision |", "|---|---|---|---|---|---|---|"]
    for t in run["tests"]:
        tests.append(f"| {t['claim']} | {t['mean_difference']:+.3f} [{t['mean_difference'] - t['mean_difference_ci95']:+.3f}, "
                     f"{t['mean_difference'] + t['mean_difference_ci95']:+.3f}] | {t['margin']:g} | {fmt_p(t['p_raw'])} | "
                     f"{fmt_p(t['p_holm'])} | {t['sign']['below']} / {t['sign']['n_nonzero']} ({fmt_p(t['sign']['p'])}) | "
                     f"{'**supported**' if t['supported'] else 'not shown'} |")
    return "\n".join(lines) + "\n\n" + "\n".join(tests) + "\n\n" + rounded_table(run)


def rounded_table(run, decimals=3):
    """Added after the pre-registration (exploratory, no decisions): the same Wilcoxon tests with
    L1 and R rounded to ``decimals`` places first, so that differences far below any meaning
    (posterior weights that differ by 1e-9) count as ties."""
    lines = [f"| hypothesis | Wilcoxon p, measures rounded to {10**-decimals:g} | nonzero differences | Holm p |",
             "|---|---|---|---|"]
    rows, results = run["rows"], []
    for t in run["tests"]:
        a = np.round(np.asarray(rows[t["a"]][t["measure"]]), decimals)
        b = np.round(np.asarray(rows[t["b"]][t["measure"]]), decimals)
        results.append((t, pt.wilcoxon_lower(np.round(a - b, decimals), t["margin"])))
    adjusted = pt.holm([r["p"] for _, r in results])
    for (t, r), p in zip(results, adjusted):
        lines.append(f"| {t['claim']} | {fmt_p(r['p'])} | {r['n_nonzero']} | {fmt_p(p)} |")
    return "\n".join(lines)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="a smoke run (seconds): N 4, 10 steps")
    group.add_argument("--pilot", action="store_true", help="the pilot on its own seeds (sizes the confirmatory run)")
    ap.add_argument("--n", type=int, default=None, help="cases (default: the pre-registered N; pilot 32; quick 4)")
    ap.add_argument("--only", nargs="*", default=None, help="run only these arms (for timing); no tests")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    ap.add_argument("--jobs", type=int, default=1, help="arms run in this many processes at once (same results)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    args.mode = "quick" if args.quick else ("pilot" if args.pilot else "confirmatory")
    args.n = args.n or {"quick": 4, "pilot": 32, "confirmatory": N_CONFIRMATORY}[args.mode]
    if args.n is None:
        ap.error("N_CONFIRMATORY is not set yet: run --pilot and fill the pre-registration first.")
    args.out = args.out or OUT[args.mode]
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--report"]:  # render the tables of a committed JSON, run nothing
        with open(argv[1] if len(argv) > 1 else OUT["confirmatory"]) as f:
            print(report_tables(json.load(f)))
        return None
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    runner = Runner(args.n, SEEDS[args.mode])
    plan = arms(args.mode)
    if args.only:
        plan = {k: v for k, v in plan.items() if k in args.only}
    results = {}

    def report(name):
        r = results[name]["rows"]
        print(f"{name:14s} L1 {np.mean(r['L1']):6.3f}  R {np.mean(r['R']):5.3f}  target weight "
              f"{np.mean(r['target_weight']):.3f}  x offset {np.mean(r['x_offset']):+.2f}  "
              f"({results[name]['seconds']:.0f} s)", flush=True)

    if args.jobs > 1:  # every arm starts from its own seeded generator: the same rows as one process
        import concurrent.futures
        import multiprocessing
        with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("fork"),
                                                    initializer=torch.set_num_threads, initargs=(args.threads,)) as pool:
            futures = {name: pool.submit(runner.run, settings) for name, settings in plan.items()}
            for name in plan:
                results[name] = futures[name].result()
                report(name)
    else:
        for name, settings in plan.items():
            results[name] = runner.run(settings)
            report(name)
    out = {"command": "python " + " ".join(shlex.quote(a) for a in ["-m", "studies.study_switch", *argv]),
           "mode": args.mode, "n": args.n, "seeds": SEEDS[args.mode], "chunk": CHUNK,
           "preregistration": os.path.relpath(PREREGISTRATION, ROOT),
           "model": {**SCENE, "source": SOURCE, "target": TARGET, "n_fresh": N_FRESH,
                     "schedule": "SD1.5 VP (scaled-linear betas 0.00085..0.012)",
                     "fresh_log_prob": {"mean": runner.fresh_mean, "sd": runner.fresh_sd}},
           "presets": {"PAPER": PRESETS.PAPER, "FAST": PRESETS.FAST},
           "reference_fresh_data": {k: summary(runner.fresh[k]) for k in ("L1", "R", "target_weight", "x_offset")},
           "arms": {name: {**{k: v for k, v in r.items() if k != "rows"},
                           "summary": {k: summary(v) for k, v in r["rows"].items()}} for name, r in results.items()},
           "rows": {name: r["rows"] for name, r in results.items()}}
    if not args.only:
        paper_l1, paper_r = np.mean(results["sde_paper"]["rows"]["L1"]), np.mean(results["sde_paper"]["rows"]["R"])
        if args.mode == "confirmatory":
            switch_points, margins = SWITCH_POINTS, {"MARGIN_L1": MARGIN_L1, "MARGIN_R": MARGIN_R}
        else:
            switch_points = PILOT_SWITCH_POINTS if args.mode == "pilot" else (0.5,)
            margins = {"MARGIN_L1": 0.05 * paper_l1, "MARGIN_R": 0.05 * paper_r}
        out["alpha"], out["margins"] = ALPHA, margins
        out["margins_from_this_run"] = {"MARGIN_L1": 0.05 * paper_l1, "MARGIN_R": 0.05 * paper_r}
        out["switch_points"] = list(switch_points)
        tests = test_family(results, switch_points, margins)
        out["tests"], out["decisions"] = tests, decisions(tests, switch_points)
        if args.mode == "confirmatory":  # the pre-registered plan: the pilot's differences, this family's size
            with open(OUT["pilot"]) as f:
                pilot = json.load(f)["rows"]
            out["power_plan_from_pilot"] = power_plan({k: {"rows": v} for k, v in pilot.items()}, switch_points, margins,
                                                      len(tests), args.n)
        else:
            out["power_plan_from_pilot"] = power_plan(results, switch_points, margins, len(tests))
        for t in tests:
            print(f"{t['id']:40s} mean diff {t['mean_difference']:+8.4f} (margin {t['margin']:.4f})  "
                  f"p {t['p_raw']:.2e}  Holm {t['p_holm']:.2e}  {'SUPPORTED' if t['supported'] else 'not supported'}")
        print(json.dumps(out["decisions"], indent=1))
    out["timings"] = {"total_s": time.perf_counter() - t_start, "threads": args.threads, "machine": platform.platform()}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {args.out} ({out['timings']['total_s']:.0f} s)")
    return out


if __name__ == "__main__":
    main()
