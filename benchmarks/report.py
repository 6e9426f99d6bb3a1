"""Render benchmark JSON as the Markdown table (stdout of run.py) and as the
"Performance" section of docs/performance.md, so that page can be checked against the JSON it cites:

    .venv/bin/python -m benchmarks.report benchmarks/results/<run>.json [<gpu run>.json]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Performance"


def load(path) -> dict:
    data = json.loads(Path(path).read_text())
    data.setdefault("path", str(path))
    return data


def _s(seconds: float) -> str:
    """Three significant digits: 12.3 s, 1.23 s, 123 ms, 12.3 ms, 123 us."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(seconds) >= scale or unit == "us":
            v = seconds / scale
            return f"{v:.3g} {unit}" if abs(v) >= 100 else f"{v:#.3g} {unit}"
    return f"{seconds} s"


def _mmm(st: dict, fmt=_s) -> str:
    return f"{fmt(st['min'])} / {fmt(st['median'])} / {fmt(st['max'])}"


def _status(fig: dict) -> str:
    if fig.get("status") == "TODO":
        return "TODO"
    if fig.get("pass") is None:
        return "-"
    return "pass" if fig["pass"] else "**FAIL**"


def _model(result: dict) -> str:
    m = result["model"]
    return f"`{m['name']}` ({m['parameters'] / 1e6:.1f} M params)"


def _column(result: dict) -> str:
    mach = result["machine"]
    if mach.get("gpu"):
        return f"GPU: {mach['gpu']}"
    return f"CPU: {mach.get('cores_available') or mach.get('cores')} cores, torch threads {mach.get('torch_threads')}"


def rows(result: dict) -> list[tuple[str, str, str, str]]:
    """(figure, setting, result, goal) per figure; `result` cells carry the status."""
    f, st = result["figures"], result["settings"]
    out = []
    o = f["overhead"]
    out.append(("1. Overhead ratio (SDE Drag / ComfyUI sampling, same calls)",
                f"{_model(result)}, {st['image_size']}, steps {st['steps']} x t0 {st['t0']} = "
                f"{st['denoising_steps']} steps, {st['sub_drags']} sub-drag, cfg {st['cfg']:g}; reference "
                f"`{o['reference_sampler']}` on a batch-2 latent; {o['drag_s']['n']} interleaved repeats",
                f"**{o['value']:.3f}** (drag {_mmm(o['drag_s'])}; reference {_mmm(o['reference_s'])})",
                "<= 1.05"))
    n = f["nfe"]
    cases = "; ".join(f"{c['model']} cfg {c['cfg']:g}, {c['sub_drags']} sub-drag(s) x {c['denoising_steps']} steps: "
                      f"{c['calls']} calls / {c['rows']} rows (formula {c['expected_rows']})" for c in n["cases"])
    out.append(("2. NFE per drag (counted / formula)", "model_function_wrapper counting calls and rows",
                f"{n['value']}: {cases}", "rows = sum 2 x (1 if cfg = 1 else 2)"))
    s = f["step_overhead"]
    out.append(("3. Step overhead (sde_core loop, free denoiser / one UNet call)",
                f"latent {'x'.join(map(str, s['latent_shape']))}, {s['denoising_steps']} steps; UNet "
                f"`{s['unet_model']}` batch 1",
                f"**{s['value'] * 100:.3f} %** ({_s(s['per_step_s']['min'])} per step vs "
                f"{_s(s['unet_call_s']['min'])} per call)", "< 1 %"))
    m = f["memory"]
    parts = [f"{c['model']} {c['image_size']}, {c['steps']} x t0 {c['t0']}: **{c['difference_mib']:+.1f} MiB** "
             f"(trajectory {c['trajectory_mib']:.2f} MiB)" for c in m["cases"]]
    out.append(("4. Memory (peak RSS drag - equal-NFE reference)", "one fresh process per side, peak RSS (VmHWM)",
                "; ".join(parts), "<= trajectory + 64 MiB"))
    q = f["quality"]
    if "demo" in q:
        out.append(quality_row(q))
    elif q.get("status") == "TODO":
        out.append(("5. Quality per NFE (demo model)", "-", f"TODO: {q['why']}", "curve"))
    else:
        curve = "; ".join(f"steps {c['steps']} ({c['nfe_calls']:.0f} calls): error {c['centroid_error_px']:.1f} px, "
                          f"left {c['left_at_source']:.2f}, PSNR outside {c['psnr_outside_db']:.1f} dB"
                          for c in q["curve"])
        n_cases = len(q["cases"]) // len(q["curve"])
        out.append(("5. Quality per NFE (demo model)", f"{n_cases} demo case{'s' if n_cases > 1 else ''}, t0 "
                    f"{q['t0']}, r {q['preset']['r']}, step_size {q['preset']['step_size']}, cfg "
                    f"{q['preset']['cfg']:g}; demo/metrics.py: object centroid error to the target, share left at the source",
                    f"{curve}; fewest steps that hold: **{q['recommended_steps']}**", "curve"))
    lo = f["lora"]
    if lo.get("status") == "TODO":
        out.append(("6. Identity LoRA", "-", f"TODO: {lo['why']}", "ramp < 2 %"))
    else:
        tr = lo["training"]
        out.append(("6. Identity LoRA: training step; LoRA + ramp per denoising step",
                    f"rank {tr['rank']}, {tr['model']}, latent {'x'.join(map(str, tr['latent_shape']))}",
                    f"training {_mmm(tr['s_per_step'])} per step; the LoRA with its ramp adds **{lo['value'] * 100:.2f} "
                    f"%** ({_s(lo['added_per_step_s'])} of {_s(lo['step_s'])} per step, timed inside the LoRA's code; "
                    f"drag with / without LoRA end to end: {lo['end_to_end']['fraction'] * 100:+.1f} %, per-repeat "
                    f"ratios {lo['end_to_end']['ratio']['per_repeat']['min']:.3f}-"
                    f"{lo['end_to_end']['ratio']['per_repeat']['max']:.3f})", "ramp < 2 %"))
    fs = f["fresh_sampler"]
    if fs.get("status") == "TODO":
        out.append(("7. Fresh-noise SDE Sampler / ddpm", "-", f"TODO: {fs['why']}", "<= 1.02"))
    else:
        out.append(("7. Fresh-noise SDE Sampler (eta 1) / ComfyUI `ddpm`", "same sigmas, batch-1 latent",
                    f"**{fs['value']:.3f}** (sampler {_mmm(fs['sampler_s'])}; ddpm {_mmm(fs['ddpm_s'])})",
                    "<= 1.02"))
    statuses = [_status(f[k]) for k in ("overhead", "nfe", "step_overhead", "memory", "quality", "lora",
                                        "fresh_sampler")]
    out = [(a, b, c if st_ == "-" else f"{c}: {st_}", d) for (a, b, c, d), st_ in zip(out, statuses)]
    if "overhead_sdxl" in f:
        out.insert(1, sdxl_row(f["overhead_sdxl"]))
    return out


def sdxl_row(o: dict) -> tuple[str, str, str, str]:
    """Figure 1 on SDXL (a full run's `overhead_sdxl`, or a `--sdxl-only` run's)."""
    st, m, n = o["settings"], o["model"], o["nfe"]
    return ("1b. Overhead ratio on SDXL (same method)",
            f"`{m['name']}` ({m['parameters'] / 1e6:.1f} M params), {st['image_size']}, steps {st['steps']} x t0 "
            f"{st['t0']} = {st['denoising_steps']} steps, {st['sub_drags']} sub-drag, cfg {st['cfg']:g}; reference "
            f"`{o['reference_sampler']}` on a batch-2 latent; {o['drag_s']['n']} interleaved repeats; fresh process",
            f"**{o['value']:.3f}** (drag {_mmm(o['drag_s'])}; reference {_mmm(o['reference_s'])}; {n['calls']} calls "
            f"/ {n['rows']} rows, formula {n['expected_rows']}): {_status(o)}", "<= 1.05")


def quality_row(q: dict) -> tuple[str, str, str, str]:
    """Figure 5 from the SDE-vs-ODE study's committed results (`quality_per_call.figure_quality`)."""
    demo, exact = q["demo"], q["exact"]
    curve = "; ".join(f"{c['plan']} ({c['unet_calls_per_case']:.0f} calls, {c['share_of_paper_calls']:.2f} of 200 "
                      f"steps'): {c['gt_l1_ae']:.4f} [{c['gt_l1_ae_ci95'][0]:.4f}, {c['gt_l1_ae_ci95'][1]:.4f}]"
                      f"{'' if c['holds'] else ' (does not hold)'}" for c in demo["curve"])
    cheap = demo["cheapest_holding"]
    ex = exact["cheapest_holding"]
    fast = q.get("fast_preset")
    fast_text = (f"; fast preset (steps {fast['settings']['steps']}, t0 {fast['settings']['t0']:g}, step_size "
                 f"{fast['settings']['step_size']}): **{fast['share_of_paper_calls']:.2f}** of the paper's calls, "
                 f"{'holds' if fast['holds'] else 'does not hold'}") if fast and fast.get("measured") else ""
    return ("5. Quality per model call (SDE-Drag plans)",
            f"demo model, N = {demo['n']} paired cases ({demo['source']}); primary measure: L1 to the true moved scene "
            f"(AE) in the edited region, mean [95 % CI]; holds: {demo['rule']}. Exact-score model: "
            f"{exact['source']}",
            f"{curve}; cheapest that holds: **{cheap['plan'] if cheap else 'none'}** "
            f"({cheap['share_of_paper_calls']:.2f} of the calls){fast_text}. Exact-score model: cheapest that holds "
            f"steps {ex['steps']}, t0 {ex['t0']:g}, step_size {ex['step_size']} = "
            f"{exact['cheapest_rows_fraction']:.3f} of the default's rows",
            "<= 0.25 of the paper's calls at the same quality")


def memory_estimate_row(fig: dict) -> tuple[str, str, str, str]:
    est, c = fig["estimate"], fig["config"]
    return ("4b. Memory estimate said before a drag / measured peak",
            f"`{c['model']}` {c['size']}x{c['size']}, steps {c['steps']} x t0 {c['t0']}, cfg {c['cfg']:g}: "
            f"{est['rows']} rows per call; fresh process, peak RSS - RSS with the model loaded",
            f"estimate {fig['estimate_mib']:.0f} MiB (activations {est['activations']:.0f} MiB by ComfyUI's formula + "
            f"recording {est['recording']:.1f} MiB) beside {fig['weights_mib']:.0f} MiB of weights; measured "
            f"{fig['measured_mib']:.0f} MiB: **{fig['value']:.2f}** (the drag ran {fig['drag']['calls']} calls of "
            f"{fig['drag']['rows']} rows in all)", "<= 1 (the estimate covers the peak)")


def table(results: list[dict]) -> str:
    """One Markdown table; one result column per run (CPU run first, then a GPU run if any).
    A `--sdxl-only` run adds its row under figure 1 (in the first column) instead of a column."""
    sdxl_only = [r for r in results if r["run"]["mode"] == "sdxl-overhead"]
    extra_rows = {r["run"]["mode"]: r for r in results if r["run"]["mode"] in ("quality-per-call", "memory-estimate")}
    results = [r for r in results if r["run"]["mode"] not in ("sdxl-overhead", "quality-per-call", "memory-estimate")]
    if not results:  # a --sdxl-only run printed alone
        results, sdxl_only = sdxl_only, []
        base = [sdxl_row(results[0]["figures"]["overhead_sdxl"])]
        others = []
    else:
        base = rows(results[0])
        others = [rows(r) for r in results[1:]]
        for extra in sdxl_only:
            row = sdxl_row(extra["figures"]["overhead_sdxl"])
            base.insert(1, row)
            for o in others:
                o.insert(1, (row[0], row[1], "-", row[3]))
    def put(row, after_prefix: str, replace_prefix: str | None = None):
        for rows_ in [base] + others:
            cells = row if rows_ is base else (row[0], row[1], "-", row[3])
            if replace_prefix and any(r[0].startswith(replace_prefix) for r in rows_):
                i = next(i for i, r in enumerate(rows_) if r[0].startswith(replace_prefix))
                rows_[i] = cells
            else:
                i = max(i for i, r in enumerate(rows_) if r[0].startswith(after_prefix))
                rows_.insert(i + 1, cells)

    if "quality-per-call" in extra_rows:
        put(quality_row(extra_rows["quality-per-call"]["figures"]["quality"]), "4.", "5.")
    if "memory-estimate" in extra_rows:
        put(memory_estimate_row(extra_rows["memory-estimate"]["figures"]["memory_estimate"]), "4.")
    header = ["figure", "setting", _column(results[0])] + [_column(r) for r in results[1:]] + ["goal"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, (fig, setting, res, goal) in enumerate(base):
        cells = [fig, setting, res] + [o[i][2] for o in others] + [goal]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def describe(result: dict) -> str:
    run = result["run"]
    if "machine" not in result:  # figure 5 alone: read from make eval's results, nothing timed
        return f"{run['date']}, {run['mode']} figure from make eval's committed results"
    mach, ver = result["machine"], result["versions"]
    return (f"{run['date']}, {mach['cpu'] or mach['platform']} ({mach.get('cores_available') or mach['cores']} "
            f"cores{', ' + mach['gpu'] if mach.get('gpu') else ''}), torch {ver['torch']}, ComfyUI "
            f"{ver['comfyui']}, {run['mode']} run of {run['seconds']:.0f} s")


def readme_section(paths: list) -> str:
    """docs/performance.md's Performance section for the given result files (relative to the repo)."""
    results = [load(REPO / p) for p in paths]
    cited = ", ".join(f"`{p}`" for p in paths)
    lines = [
        SECTION,
        "",
        "The drag costs its model calls and little else. `make bench` (`.venv/bin/python -m benchmarks.run`) "
        "reproduces the table: ComfyUI's own SD1.5 UNet with random weights (nothing downloaded; row 1b: "
        "its SDXL UNet, in a fresh process, also alone with `python -m benchmarks.run --sdxl-only`), the drag and "
        "its ComfyUI reference interleaved in one process, ratios of the minimum times, min / median / max "
        "shown; `make bench QUICK=1` is the same run on the tiny test model (a smoke test, part of `make "
        "test`). What is timed is LATENT in -> LATENT out, model loaded, no VAE: the node classes are called "
        "directly (not through ComfyUI's executor) with the same objects on both sides, and the reference is "
        "`comfy.sample.sample_custom` (the SamplerCustom node's body) making the same model calls of the same "
        "batch rows. Row 4b is one SDXL drag at 1024x1024 in a fresh process (`python -m benchmarks.run --sdxl-memory`); "
        "row 5 reads the SDE-vs-ODE study's committed results (`make eval`, or `python -m benchmarks.run --quality-only` "
        "to redo the figure alone). Results: " + cited + " (" + "; ".join(describe(r) for r in results) + ").",
        "",
        table(results),
        "",
    ]
    for r in results:
        o = r["figures"].get("overhead_sdxl")
        if o:
            pr, load_avg = o["ratio"]["per_repeat"], r["machine"].get("load_average_at_start")
            lines.append(f"Row 1b's per-repeat ratios span {pr['min']:.3f}-{pr['max']:.3f} (ratio of the medians "
                         f"{o['ratio']['of_median']:.3f}), load average {load_avg[0]:.1f} at its start: on a machine "
                         f"shared with other jobs the ratio of minimums is noise-limited; rerun it on a quiet one.")
            lines.append("")
    q = results[0]["figures"].get("quality", {})
    if q.get("recommended_steps") and not any(r["run"]["mode"] == "quality-per-call" for r in results):
        lines.append(f"Figure 5 recommends {q['recommended_steps']} steps on the demo model ({q['rule']}).")
        lines.append("")
    return "\n".join(lines)


def readme_section_text(readme: str) -> str | None:
    """The Performance section of a page's text (docs/performance.md) (up to the next '## ' heading), or None."""
    start = readme.find("\n" + SECTION + "\n")
    if start < 0:
        return None
    body = readme[start + 1:]
    end = body.find("\n## ", len(SECTION))
    return body if end < 0 else body[:end + 1]


def cited_results(section: str) -> list[str]:
    import re

    listed = re.search(r"Results: (.*?) \(", section)  # the run files; other JSON named in the text are sources
    seen = []
    for p in re.findall(r"benchmarks/results/[\w.+-]+\.json", listed.group(1) if listed else section):
        if p not in seen:
            seen.append(p)
    return seen


if __name__ == "__main__":
    print(readme_section(sys.argv[1:]))


def memory_estimate_text(result: dict) -> str:
    """One line for docs/performance.md: the estimate said before an SDXL drag against its measured peak."""
    fig = result["figures"]["memory_estimate"]
    est, c = fig["estimate"], fig["config"]
    return (f"{c['model']} {c['size']}x{c['size']}, {est['rows']} rows per call: estimate {fig['estimate_mib']:.0f} MiB "
            f"(activations {est['activations']:.0f} MiB by ComfyUI's formula + recording {est['recording']:.1f} MiB) "
            f"beside {fig['weights_mib']:.0f} MiB of weights; measured {fig['measured_mib']:.0f} MiB "
            f"(ratio {fig['value']:.2f}; {result['run']['date']}, {result['machine'].get('cpu', '')})")
