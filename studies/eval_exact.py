"""SDE vs ODE drag on an exact-score model: the paper's theorem in its own setting.

    .venv/bin/python -m studies.eval_exact [--n 256] [--quick] [--out PATH] [--threads 1]
    .venv/bin/python -m studies.eval_exact --readme [JSON]   # docs/findings.md's tables from a run's JSON

The model (studies/exact_mixture.py): 16x16 one-channel images of a 4x4 square (height 2) at
any of the 256 cells on a stationary Gaussian texture (unit variance, correlation ~1.5 px),
a Gaussian mixture over positions with closed-form denoiser, component posterior and
log-density. So model quality cannot be a cause: every denoiser call is exact.

The drag: N scenes with the object at (5, 8), dragged to (11, 8) (6 cells), the paper's
method run with sde_core's functions (record_forward / ddim_invert, copy_paste,
sample_cycle_sde / sample_ode_masked) on SD1.5's VP schedule, no mask, r 3 (a 6x6 patch
holding the object), beta 0.3. Defaults: steps 200, t0 0.6, alpha 1.1, step_size 2 (three
sub-drags), the paper's. Every configuration sees the same N input scenes and the same
sampler seed.

Measures (fixed after small trial runs, before the full runs; per result, then mean and 95 %
interval over N):
- accuracy: the posterior weight of the target's component at sigma 0 (``target``); the
  weight within one cell of it (``near``); the weight within one cell of the source
  (``left``); the posterior-expected distance to the target in cells (``pos err``);
- realism: the exact log-likelihood ``log p_0`` of the result minus the mean over N fresh
  data scenes (``loglik gap``, 0 = as likely as data; positive = more likely than data is,
  i.e. too smooth); the share of results outside the central 98 % of the fresh scenes'
  log-likelihoods (``atypical``, 2 % for data); the Gaussian-fit KL of the whitened
  residuals ``C^-1/2 (x - m_p)`` (p = each result's most likely position) to N(0, I)
  (``KL fit``; its floor, the same estimator on fresh data at this N, is printed);
- cost: denoiser calls and rows (batch entries) per image; SDE batches the edited and the
  recorded latent in one call of 2 rows, ODE makes an inversion and a denoising call.
Added after the first full run, to find causes: the variance of the whitened residual in the
pasted square, the source square and elsewhere (1 for data); the exact component posterior
at t0 of Cycle-SDE's pasted latent (one paste of the whole drag).

Tables: (1) t0, (2) alpha, (3) steps, (4) the eta front (Cycle-SDE with DDIM's eta, the
recorded noise defined with the same eta) over t0 and sub-drags, (5) causes: where the
object lands against the exact posterior at t0 of the pasted latent, where realism is lost
(whitened residual variance by region), the object's contrast (height 2, 3, 4), (6) quality
per model call over steps x t0 x step_size with the cheapest plan within the paper default's
interval.
Writes benchmarks/results/eval_exact.json (every figure, the command, seeds) and a Markdown
table file beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time

import torch

from studies import exact_mixture as em

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "eval_exact.json")
QUICK_OUT = os.path.join(ROOT, "benchmarks", "results", "quick", "eval_exact.json")  # git-ignored: never the full run
SOURCE, TARGET = (5, 8), (11, 8)
PAPER = {"steps": 200, "t0": 0.6, "step_size": 2, "alpha": 1.1}
FIXED = {"r": 3, "beta": 0.3}
SEEDS = {"scenes": 11, "fresh": 12, "sampler": 13}
# direction of "better" per measure: higher, lower, or closer to zero
MEASURES = {"target": "higher", "near": "higher", "left": "lower", "pos_err": "lower",
            "loglik_gap": "zero", "atypical": "lower"}
HOLD_ON = ("target", "near", "pos_err", "loglik_gap", "atypical")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=None, help="scenes per configuration (default 256; 24 with --quick)")
    ap.add_argument("--quick", action="store_true", help="a smoke run (seconds): small N, few steps")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--out", default=None,
                    help="the JSON to write, the Markdown beside it (.md); default benchmarks/results/eval_exact.json, "
                         "results/quick/eval_exact.json with --quick")
    args = ap.parse_args(argv)
    args.out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    args.n = args.n or (24 if args.quick else 256)
    return args


def grids(quick):
    """The configurations of every table (quick: the same tables, fewer and shorter runs)."""
    if quick:
        paper = {"steps": 20, "t0": 0.6, "step_size": 2, "alpha": 1.1}
        return paper, {
            "t0": [0.4, 0.6], "alpha": [1.0, 1.1], "steps": [10, 20], "eta": [0.0, 0.5, 1.0],
            "eta_t0": [0.6], "eta_step_size": [2], "cost_steps": [10, 20], "cost_t0": [0.4, 0.6],
            "cost_step_size": [2, 6], "amplitude": [2.0, 4.0], "contrast_t0": [0.6],
        }
    return dict(PAPER), {
        "t0": [0.2, 0.4, 0.6, 0.8], "alpha": [1.0, 1.1, 1.3], "steps": [25, 50, 100, 200],
        "eta": [0.0, 0.25, 0.5, 0.75, 1.0], "eta_t0": [0.4, 0.6], "eta_step_size": [2, 6],
        "cost_steps": [25, 50, 100, 200], "cost_t0": [0.3, 0.4, 0.5, 0.6], "cost_step_size": [2, 3, 6],
        "amplitude": [2.0, 3.0, 4.0], "contrast_t0": [0.4, 0.6],
    }


class Runner:
    """Runs one configuration on the shared scenes, once (cached by its settings)."""

    def __init__(self, n, amplitude=2.0):
        self.scenes = em.TexturedObjectScenes(amplitude=amplitude)
        self.inputs = self.scenes.sample(n, torch.Generator().manual_seed(SEEDS["scenes"]), points=SOURCE)
        fresh = self.scenes.sample(n, torch.Generator().manual_seed(SEEDS["fresh"]), points=TARGET)
        self.fresh_log_prob = self.scenes.log_prob(fresh)
        self.cache, self.n = {}, n
        (src_rows, src_cols), (tgt_rows, tgt_cols) = em.sde_core.patch_bounds(SOURCE, TARGET, FIXED["r"], 16, 16)
        target_sq, source_sq = torch.zeros(16, 16, dtype=torch.bool), torch.zeros(16, 16, dtype=torch.bool)
        target_sq[tgt_rows, tgt_cols], source_sq[src_rows, src_cols] = True, True
        self.regions = {"target square": target_sq, "source square": source_sq & ~target_sq,
                        "elsewhere": ~(target_sq | source_sq)}
        self.reference = {
            "fresh data at the target": self.summarise(fresh, None),
            "input (object at the source)": self.summarise(self.inputs, None),
        }

    def summarise(self, results, cost):
        per = em.drag_measures(self.scenes, results, SOURCE, TARGET, self.fresh_log_prob)
        per["loglik_gap"] = per["log_prob"] - self.fresh_log_prob.mean()
        names = {"target": "target_weight", "near": "near_target", "left": "left_at_source",
                 "pos_err": "position_error", "loglik_gap": "loglik_gap", "atypical": "atypical"}
        out = {}
        for key, name in names.items():
            mean, half = em.mean_ci(per[name])
            out[key] = {"mean": mean, "ci95": half}
        # the gap's interval also carries the fresh scenes' own sampling error
        out["loglik_gap"]["ci95"] = 1.96 * (per["log_prob"].var().item() / self.n
                                            + self.fresh_log_prob.var().item() / self.n) ** 0.5
        out["loglik_q05"] = per["log_prob"].quantile(0.05).item() - self.fresh_log_prob.quantile(0.05).item()
        out["kl_fit"] = em.gaussian_fit_kl(per["whitened"])
        # where realism is lost: variance of the whitened residual per region (1 for data)
        z = per["whitened"].reshape(-1, self.scenes.size, self.scenes.size)
        out["whitened_var"] = {name: z[:, region].var().item() for name, region in self.regions.items()}
        if cost is not None:
            out.update(cost)
        return out

    def run(self, method, steps, t0, step_size, alpha, eta=1.0):
        key = (method, steps, t0, step_size, alpha, eta if method == "sde" else None)
        if key not in self.cache:
            counter = {}
            sigmas = em.drag_sigmas(steps, t0)
            start = time.perf_counter()
            out = em.drag(self.scenes.denoiser(counter=counter), self.inputs, SOURCE, TARGET, sigmas,
                          method=method, eta=eta, alpha=alpha, step_size=step_size,
                          generator=torch.Generator().manual_seed(SEEDS["sampler"]), **FIXED)
            seconds = time.perf_counter() - start
            n_sub = len(em.sde_core.plan_subdrags([SOURCE], [TARGET], step_size))
            cost = {"calls_per_image": counter["calls"], "rows_per_image": counter["rows"] / self.n,
                    "subdrags": n_sub, "seconds": seconds}
            self.cache[key] = {"method": method, "steps": steps, "t0": t0, "step_size": step_size, "alpha": alpha,
                               "eta": key[-1], **self.summarise(out, cost)}
        return self.cache[key]


    def posterior_at_t0(self, steps, t0, alpha):
        """The exact component posterior of Cycle-SDE's pasted latent at t0: the first
        operations of ``em.drag`` with the same seed (record_forward, noise, copy_paste), so
        with one sub-drag it is the very latent the SDE run denoised."""
        sigmas = em.drag_sigmas(steps, t0)
        pasted = em.pasted_latent(self.inputs, SOURCE, TARGET, sigmas, alpha=alpha, generator=torch.Generator().manual_seed(
            SEEDS["sampler"]), **FIXED)
        post = self.scenes.component_posterior(pasted, sigmas[0].item())
        near = (post * (em._cell_distance(16, TARGET) <= 1.5)).flatten(1).sum(1)
        return {"sigma_t0": sigmas[0].item(), "target": dict(zip(("mean", "ci95"), em.mean_ci(post[:, TARGET[1], TARGET[0]]))),
                "near": dict(zip(("mean", "ci95"), em.mean_ci(near)))}

    def reconstruct(self, steps, t0):
        """ODE-Drag's inversion and denoising without the copy-paste: the DDIM round trip's own
        effect on the measures (Cycle-SDE's round trip is exact: the input row)."""
        sigmas = em.drag_sigmas(steps, t0)
        model = self.scenes.denoiser()
        trajectory = em.sde_core.ddim_invert(model, self.inputs, sigmas, sigma_min=em.SD15_SIGMA_MIN, disable=True)
        out = em.sde_core.sample_ode_masked(model, trajectory.latent_at_t0, sigmas, disable=True)
        return {"method": "ode", "steps": steps, "t0": t0, "no_edit": True, **self.summarise(out, None)}


def holds(plan, default):
    """Within the default's 95 % interval or better, on every measure of ``HOLD_ON``."""
    for key in HOLD_ON:
        p, d = plan[key]["mean"], default[key]
        if MEASURES[key] == "higher" and p < d["mean"] - d["ci95"]:
            return False
        if MEASURES[key] == "lower" and p > d["mean"] + d["ci95"]:
            return False
        if MEASURES[key] == "zero" and abs(p) > abs(d["mean"]) + d["ci95"]:
            return False
    return True


def label(row):
    if row["method"] == "ode":
        return "ODE-Drag"
    return "SDE-Drag" if row["eta"] == 1.0 else f"Cycle eta {row['eta']:g}"


def fmt(m):
    return f"{m['mean']:.3f} ± {m['ci95']:.3f}"


def markdown_table(columns, rows) -> str:
    """A Markdown table: the header of `columns`, its rule, then one line per row of cells."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def table_rows(rows, first):
    """The eval_exact.md table of (name, measures) rows, `first` naming the name column."""
    columns = [first, "target weight", "near target", "left at source", "pos err (cells)", "loglik gap", "atypical",
               "KL fit", "calls / rows per image"]
    return markdown_table(columns, [
        [name, fmt(r["target"]), fmt(r["near"]), fmt(r["left"]), fmt(r["pos_err"]),
         f"{r['loglik_gap']['mean']:+.2f} ± {r['loglik_gap']['ci95']:.2f}", f"{100 * r['atypical']['mean']:.1f} %",
         f"{r['kl_fit']:.2f}", f"{r['calls_per_image']} / {r['rows_per_image']:.0f}" if "calls_per_image" in r else "-"]
        for name, r in rows])


def readme_tables(result):
    """docs/findings.md's tables ("SDE vs ODE on an exact-score model"), rendered from a full run's JSON."""
    t, ref = result["tables"], result["reference"]["fresh data at the target"]

    def pm(m, d=2):
        return f"{m['mean']:.{d}f} ± {m['ci95']:.{d}f}"

    def pct(m):
        return f"{100 * m['mean']:.1f} %"

    def short(row):
        return "ODE" if row["method"] == "ode" else ("SDE" if row["eta"] == 1.0 else f"eta {row['eta']:g}")

    def square_var(row):
        return f"{row['whitened_var']['target square']:.2f}"

    out = {}
    fresh = ["fresh data", "-", pm(ref["target"]), pm(ref["near"]), pm(ref["loglik_gap"], 1), pct(ref["atypical"]),
             f"{ref['kl_fit']:.2f}", square_var(ref), "-"]
    out["t0"] = markdown_table(
        ["method", "t0", "target weight", "near target", "loglik gap", "atypical", "KL fit", "pasted square var",
         "rows / image"],
        [fresh] + [[short(r), f"{r['t0']:g}", pm(r["target"]), pm(r["near"]), pm(r["loglik_gap"], 1),
                    pct(r["atypical"]), f"{r['kl_fit']:.2f}", square_var(r), f"{r['rows_per_image']:.0f}"]
                   for r in t["t0"]])

    out["alpha"] = markdown_table(
        ["method", "alpha", "posterior at t0 of one 6-cell paste", "target weight", "loglik gap", "atypical",
         "KL fit", "pasted square var"],
        [[short(r), f"{r['alpha']:g}", f"{r['posterior_at_t0']['target']['mean']:.2f}", pm(r["target"]),
          pm(r["loglik_gap"], 1), pct(r["atypical"]), f"{r['kl_fit']:.2f}", square_var(r)] for r in t["alpha"]])

    drags = [r for r in t["steps"] if not r.get("no_edit")]
    round_trip = {r["steps"]: r for r in t["steps"] if r.get("no_edit")}
    rows = []
    for steps in sorted({r["steps"] for r in drags}):
        sde, ode = ([r for r in drags if r["steps"] == steps and r["method"] == m][0] for m in ("sde", "ode"))
        rows.append([steps, pm(sde["target"]), pm(sde["loglik_gap"], 1), pct(sde["atypical"]), pm(ode["target"]),
                     pm(ode["loglik_gap"], 1), pct(ode["atypical"]), pm(round_trip[steps]["loglik_gap"], 1)])
    out["steps"] = markdown_table(
        ["steps", "SDE target weight", "SDE loglik gap", "SDE atypical", "ODE target weight", "ODE loglik gap",
         "ODE atypical", "ODE round trip, no edit: loglik gap"], rows)

    out["position_at_t0"] = markdown_table(
        ["t0", "sigma(t0)", "exact posterior at t0 of the pasted latent", "SDE-Drag result", "ODE-Drag result"],
        [[f"{r['t0']:g}", f"{r['posterior_at_t0']['sigma_t0']:.2f}", pm(r["posterior_at_t0"]["target"]),
          pm(r["sde"]["target"]), pm(r["ode"]["target"])] for r in t["position_at_t0"]])

    rows = t["contrast"]
    out["contrast"] = markdown_table(
        ["object height", "t0", "posterior at t0", "SDE target weight", "ODE target weight", "SDE loglik gap",
         "ODE loglik gap"],
        [[f"{sde['amplitude']:g}", f"{sde['t0']:g}", f"{sde['posterior_at_t0']['target']['mean']:.2f}",
          pm(sde["target"]), pm(ode["target"]), pm(sde["loglik_gap"], 1), pm(ode["loglik_gap"], 1)]
         for sde, ode in zip(rows[::2], rows[1::2])])

    def sampler(r):
        return "ODE-Drag" if r["method"] == "ode" else ("SDE-Drag (eta 1)" if r["eta"] == 1 else f"Cycle eta {r['eta']:g}")

    out["eta"] = markdown_table(
        ["t0", "sub-drags", "sampler", "near target", "target weight", "loglik gap", "atypical", "pasted square var"],
        [[f"{r['t0']:g}", r["subdrags"], sampler(r), pm(r["near"]), pm(r["target"]), pm(r["loglik_gap"], 1),
          pct(r["atypical"]), square_var(r)]
         for r in t["eta"] if not (r["method"] == "sde" and r["eta"] == 0.25)])  # eta 0.25: between 0 and 0.5 (eval_exact.md has it)

    def plan(r):
        return (r["steps"], r["t0"], r["subdrags"])

    rows = []
    for method in ("sde", "ode"):
        cost = t["cost"][method]
        default, cheapest = cost["default"], cost["cheapest_holding"]
        at_default_t0 = [p for p in cost["plans"] if p["holds"] and p["t0"] == default["t0"]]
        picks = [("paper default", default), ("cheapest that holds", cheapest)]
        if cheapest["t0"] != default["t0"] and plan(at_default_t0[0]) != plan(default):
            picks.append((f"cheapest that holds at t0 {default['t0']:g}", at_default_t0[0]))
        rows += [[f"{short(r)}: {name}", r["steps"], f"{r['t0']:g}", r["subdrags"], f"{r['rows_per_image']:.0f}",
                  pm(r["target"]), pm(r["near"]), pm(r["loglik_gap"], 1), pct(r["atypical"])] for name, r in picks]
    out["cost"] = markdown_table(
        ["plan", "steps", "t0", "sub-drags", "rows / image", "target weight", "near target", "loglik gap", "atypical"],
        rows)
    return out


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--readme"]:  # render docs/findings.md's tables from a committed JSON, run nothing
        path = argv[1] if len(argv) > 1 else DEFAULT_OUT
        with open(path) as f:
            print("\n\n".join(readme_tables(json.load(f)).values()))
        return None
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    paper, grid = grids(args.quick)
    runner = Runner(args.n)
    P = paper
    tables, md = {}, []
    refs = [(k, v) for k, v in runner.reference.items()]
    md.append(f"N = {args.n} scenes per row, drag {SOURCE} -> {TARGET} (6 cells), r 3, beta 0.3, no mask; "
              f"KL fit floor (fresh data) {runner.reference['fresh data at the target']['kl_fit']:.2f}.")
    md.append("\n### References\n\n" + table_rows(refs, "scenes"))

    rows = []
    for t0 in grid["t0"]:
        for method in ("sde", "ode"):
            rows.append((f"{label({'method': method, 'eta': 1.0})} t0 {t0:g}",
                         runner.run(method, P["steps"], t0, P["step_size"], P["alpha"])))
    tables["t0"] = rows
    md.append(f"\n### t0 (steps {P['steps']}, step_size {P['step_size']}, alpha {P['alpha']:g})\n\n" + table_rows(rows, "method"))

    rows = []
    for alpha in grid["alpha"]:
        at_t0 = runner.posterior_at_t0(P["steps"], P["t0"], alpha)  # one paste of the whole drag
        for method in ("sde", "ode"):
            r = {**runner.run(method, P["steps"], P["t0"], P["step_size"], alpha), "posterior_at_t0": at_t0}
            rows.append((f"{label({'method': method, 'eta': 1.0})} alpha {alpha:g} (posterior at t0 of one "
                         f"6-cell paste: {at_t0['target']['mean']:.2f})", r))
    tables["alpha"] = rows
    md.append(f"\n### alpha (steps {P['steps']}, t0 {P['t0']:g}, step_size {P['step_size']})\n\n" + table_rows(rows, "method"))

    rows = []
    for steps in grid["steps"]:
        for method in ("sde", "ode"):
            rows.append((f"{label({'method': method, 'eta': 1.0})} {steps} steps",
                         runner.run(method, steps, P["t0"], P["step_size"], P["alpha"])))
    for steps in grid["steps"]:
        rows.append((f"ODE no edit (invert + denoise) {steps} steps", runner.reconstruct(steps, P["t0"])))
    tables["steps"] = rows
    md.append(f"\n### steps (t0 {P['t0']:g}, step_size {P['step_size']}, alpha {P['alpha']:g})\n\n" + table_rows(rows, "method"))

    rows = []
    for t0 in grid["eta_t0"]:
        for step_size in grid["eta_step_size"]:
            for eta in grid["eta"]:
                r = runner.run("sde", P["steps"], t0, step_size, P["alpha"], eta)
                rows.append((f"{label(r)}, t0 {t0:g}, {r['subdrags']} sub-drags", r))
            r = runner.run("ode", P["steps"], t0, step_size, P["alpha"])
            rows.append((f"ODE-Drag, t0 {t0:g}, {r['subdrags']} sub-drags", r))
    tables["eta"] = rows
    md.append(f"\n### eta front (steps {P['steps']}, alpha {P['alpha']:g})\n\n" + table_rows(rows, "method"))

    rows, lines = [], ["| t0 | sigma(t0) | posterior at t0 of the pasted latent: target / near | SDE-Drag result: "
                       "target / near | ODE-Drag result: target / near |", "|---|---|---|---|---|"]
    for t0 in grid["t0"]:
        at_t0 = runner.posterior_at_t0(P["steps"], t0, P["alpha"])
        sde = runner.run("sde", P["steps"], t0, 6, P["alpha"])
        ode = runner.run("ode", P["steps"], t0, 6, P["alpha"])
        rows.append({"t0": t0, "posterior_at_t0": at_t0, "sde": {k: sde[k] for k in ("target", "near")},
                     "ode": {k: ode[k] for k in ("target", "near")}})
        lines.append(f"| {t0:g} | {at_t0['sigma_t0']:.2f} | {fmt(at_t0['target'])} / {fmt(at_t0['near'])} | "
                     f"{fmt(sde['target'])} / {fmt(sde['near'])} | {fmt(ode['target'])} / {fmt(ode['near'])} |")
    tables["position_at_t0"] = rows
    md.append(f"\n### cause: where the object lands (steps {P['steps']}, one sub-drag, alpha {P['alpha']:g})\n\n"
              + "\n".join(lines))

    lines = ["| method | " + " | ".join(runner.regions) + " |", "|---" * (1 + len(runner.regions)) + "|"]
    for name, r in tables["eta"]:
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in r["whitened_var"].values()) + " |")
    md.append("\n### cause: where realism is lost (variance of the whitened residual about the most likely "
              "position, by region; data: 1)\n\n" + "\n".join(lines))

    rows = []
    for amplitude in grid["amplitude"]:
        other = runner if amplitude == runner.scenes.amplitude else Runner(args.n, amplitude)
        for t0 in grid["contrast_t0"]:
            at_t0 = other.posterior_at_t0(P["steps"], t0, P["alpha"])
            for method in ("sde", "ode"):
                r = other.run(method, P["steps"], t0, 6, P["alpha"])
                r = {**r, "amplitude": amplitude, "posterior_at_t0": at_t0}
                rows.append((f"{label(r)}, object height {amplitude:g}, t0 {t0:g} (posterior at t0: "
                             f"{at_t0['target']['mean']:.2f})", r))
    tables["contrast"] = rows
    md.append(f"\n### cause: the object's contrast (steps {P['steps']}, one sub-drag, alpha {P['alpha']:g}; "
              f"texture std 1)\n\n" + table_rows(rows, "method"))

    cost = {}
    for method in ("sde", "ode"):
        default = runner.run(method, P["steps"], P["t0"], P["step_size"], P["alpha"])
        plans = []
        for steps in grid["cost_steps"]:
            for t0 in grid["cost_t0"]:
                for step_size in grid["cost_step_size"]:
                    r = runner.run(method, steps, t0, step_size, P["alpha"])
                    plans.append({**r, "holds": holds(r, default)})
        plans.sort(key=lambda r: (r["rows_per_image"], -r["target"]["mean"]))
        holding = [p for p in plans if p["holds"]]
        cheapest = holding[0] if holding else None
        cost[method] = {"default": default, "plans": plans, "cheapest_holding": cheapest,
                        "cheapest_rows_fraction": (cheapest["rows_per_image"] / default["rows_per_image"]) if cheapest else None}
    tables["cost"] = cost
    lines = ["| method | steps | t0 | sub-drags | calls / rows per image | target weight | pos err | loglik gap | atypical | holds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for method in ("sde", "ode"):
        for r in cost[method]["plans"]:
            lines.append(f"| {label(r)} | {r['steps']} | {r['t0']:g} | {r['subdrags']} | {r['calls_per_image']} / "
                         f"{r['rows_per_image']:.0f} | {fmt(r['target'])} | {fmt(r['pos_err'])} | "
                         f"{r['loglik_gap']['mean']:+.2f} ± {r['loglik_gap']['ci95']:.2f} | "
                         f"{100 * r['atypical']['mean']:.1f} % | {'yes' if r['holds'] else 'no'} |")
    summary = []
    for method in ("sde", "ode"):
        c, d = cost[method]["cheapest_holding"], cost[method]["default"]
        name = "SDE-Drag" if method == "sde" else "ODE-Drag"
        if c is None:
            summary.append(f"- {name}: no plan holds the default's interval.")
        else:
            summary.append(f"- {name}: cheapest plan within the default's interval: steps {c['steps']}, t0 {c['t0']:g}, "
                           f"{c['subdrags']} sub-drag(s) = {c['rows_per_image']:.0f} rows per image vs "
                           f"{d['rows_per_image']:.0f} for the default ({100 * cost[method]['cheapest_rows_fraction']:.1f} %).")
    md.append(f"\n### quality per model call (alpha {P['alpha']:g}; default steps {P['steps']}, t0 {P['t0']:g}, "
              f"step_size {P['step_size']}; holds = within the default's 95 % interval or better on target weight, "
              f"near target, pos err, |loglik gap| and atypical)\n\n" + "\n".join(lines) + "\n\n" + "\n".join(summary))

    report = "\n".join(md)
    print(report)
    total = time.perf_counter() - t_start
    result = {
        "command": "python " + " ".join(shlex.quote(a) for a in ["-m", "studies.eval_exact", *argv]),
        "mode": "quick" if args.quick else "full",
        "n": args.n, "seeds": SEEDS, "source": SOURCE, "target": TARGET, "fixed": FIXED, "paper_default": P,
        "model": {"size": runner.scenes.size, "side": runner.scenes.side, "amplitude": runner.scenes.amplitude,
                  "texture": "stationary, spectrum (1 + (2 pi 1.5 |f|)^2)^-1.5, unit pixel variance",
                  "schedule": "SD1.5 VP (scaled-linear betas 0.00085..0.012)"},
        "measures": {k: v for k, v in MEASURES.items()}, "hold_on": HOLD_ON,
        "reference": runner.reference,
        "tables": {k: ([{"name": r[0], **r[1]} if isinstance(r, tuple) else r for r in v] if isinstance(v, list) else v)
                   for k, v in tables.items()},
        "timings": {"total_s": total, "threads": args.threads, "machine": platform.platform()},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(report + "\n")
    print(f"\nwrote {args.out} ({total:.0f} s)")
    return result


if __name__ == "__main__":
    main()
