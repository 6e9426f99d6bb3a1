"""The committed confirmatory JSONs of issue 28, on the exact-score model
(benchmarks/results/confirmatory-switch.json) and on the demo model
(confirmatory-switch-demo.json), are what their pre-registrations say, and every figure in them
recomputes from their per-case rows: the paired differences, the Wilcoxon and sign p-values
(recomputed here by code of their own), Holm's correction, and the decisions by the
pre-registered rules. Plus a --quick smoke of studies/study_switch.py (a few seconds) and the
switch's exact reconstruction on the 64x64 model the run used (the demo driver's smoke and
its switch node: tests/test_switch_demo.py)."""

import json
import math
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch

from studies import study_switch, study_switch_demo

ROOT = pathlib.Path(__file__).resolve().parents[1]
STUDIES = {"exact-score model": study_switch, "demo model": study_switch_demo}


@pytest.fixture(scope="module", params=list(STUDIES))
def study(request):
    """(the study's module, its confirmatory JSON loaded)."""
    module = STUDIES[request.param]
    with open(module.OUT["confirmatory"]) as f:
        return module, json.load(f)


@pytest.fixture()
def run(study):
    return study[1]


def wilcoxon_p(e):
    """Lower-tail signed-rank p (normal approximation, tie-corrected variance, continuity 1/2),
    written independently of studies/paired_tests.py."""
    e = e[e != 0]
    n = len(e)
    if n == 0:
        return 1.0
    a = np.abs(e)
    values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)  # ranks of a tie group span upper - count + 1 .. upper
    group_rank = upper - (counts - 1) / 2.0
    w_plus = group_rank[inverse][e > 0].sum()
    var = n * (n + 1) * (2 * n + 1) / 24.0 - (counts**3 - counts).sum() / 48.0
    z = (w_plus - n * (n + 1) / 4.0 + 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(-z / math.sqrt(2))


def sign_p(e):
    k, n = int((e < 0).sum()), int((e != 0).sum())
    return sum(math.comb(n, j) for j in range(k, n + 1)) / 2**n if n else 1.0


def holm_adjusted(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for step, i in enumerate(order):
        running = max(running, min(1.0, (m - step) * p[i]))
        out[i] = running
    return out


def test_the_preregistration_exists_and_names_this_runs_settings(study):
    module, run = study
    text = pathlib.Path(module.PREREGISTRATION).read_text()
    assert run["preregistration"] == str(pathlib.Path(module.PREREGISTRATION).relative_to(ROOT))
    assert run["mode"] == "confirmatory" and run["n"] == module.N_CONFIRMATORY
    assert f"N = {run['n']}" in text
    for seed in run["seeds"].values():
        assert str(seed) in text
    assert run["seeds"] == module.SEEDS["confirmatory"]
    margins = {f"MARGIN_{m}": getattr(module, f"MARGIN_{m}") for m in module.MEASURES}
    assert run["margins"] == margins
    for name, value in margins.items():
        assert f"{name} = {value:g}" in text
    assert run["switch_points"] == list(module.SWITCH_POINTS) and run["alpha"] == 0.05
    for hid in [t["id"] for t in run["tests"]]:
        assert hid.replace("_0.25_", "_s_").replace("_0.5_", "_s_").replace("switch_0.25", "switch_s") in text


@pytest.mark.parametrize("name", list(STUDIES))
def test_the_preregistration_was_committed_before_the_json(name):
    module = STUDIES[name]
    prereg_path, json_path = pathlib.Path(module.PREREGISTRATION), pathlib.Path(module.OUT["confirmatory"])
    assert shutil.which("git") and (ROOT / ".git").exists(), "this test reads the git history: run it in a git clone"
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True)
    assert shallow.stdout.strip() == "false", "a shallow clone hides the commit order: git fetch --unshallow"

    def first_commit(path):
        out = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H %ct", "--", str(path)], cwd=ROOT,
                             capture_output=True, text=True).stdout.split()
        return (out[-2], int(out[-1])) if out else None

    prereg, result = first_commit(prereg_path.relative_to(ROOT)), first_commit(json_path.relative_to(ROOT))
    assert prereg and result, f"{prereg_path.name} and {json_path.name} must both be committed"
    assert prereg[0] != result[0]
    ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", prereg[0], result[0]], cwd=ROOT)
    assert ancestor.returncode == 0 and prereg[1] <= result[1]


def test_the_family_is_the_preregistered_one_and_every_arm_has_n_rows(study):
    module, run = study
    expected = [h[0] for h in study_switch.hypotheses(module.SWITCH_POINTS, *module.MEASURES)]
    assert [t["id"] for t in run["tests"]] == expected and len(expected) == 14
    assert [t["measure"] for t in run["tests"]] == [h[2] for h in study_switch.hypotheses(module.SWITCH_POINTS,
                                                                                          *module.MEASURES)]
    assert set(run["rows"]) == set(module.arms("confirmatory"))
    for name, rows in run["rows"].items():
        for measure, values in rows.items():
            assert len(values) == run["n"], (name, measure)
            assert run["arms"][name]["summary"][measure]["mean"] == pytest.approx(np.mean(values), rel=1e-12, abs=1e-12)


def test_every_p_value_recomputes_from_the_per_case_rows(run):
    for t in run["tests"]:
        rows = run["rows"]
        d = np.asarray(rows[t["a"]][t["measure"]]) - np.asarray(rows[t["b"]][t["measure"]])
        margin = 0.0 if t["margin_name"] is None else run["margins"][t["margin_name"]]
        assert t["margin"] == margin and t["kind"] == ("superiority" if margin == 0 else "non-inferiority")
        assert t["mean_difference"] == pytest.approx(d.mean(), rel=1e-12, abs=1e-12)
        assert t["p_raw"] == t["wilcoxon"]["p"]
        assert t["p_raw"] == pytest.approx(wilcoxon_p(d - margin), rel=1e-9, abs=1e-15), t["id"]
        assert t["sign"]["p"] == pytest.approx(sign_p(d - margin), rel=1e-9, abs=1e-15), t["id"]


def test_holm_recomputes_and_each_decision_follows_the_preregistered_rule(run):
    tests = run["tests"]
    adjusted = holm_adjusted([t["p_raw"] for t in tests])
    for t, p in zip(tests, adjusted):
        assert t["p_holm"] == pytest.approx(p, rel=1e-12, abs=1e-15)
        assert t["supported"] == (p < run["alpha"])
    ok = {t["id"]: t["supported"] for t in tests}
    decisions = run["decisions"]
    for s in run["switch_points"]:
        sw = f"switch_{s:g}"
        mine = [k for k in ok if k.startswith(sw + "_")]
        assert len(mine) == 4
        assert decisions[sw]["beats_both_ends"] == all(ok[k] for k in mine)
    assert decisions["fast_is_paper_quality"] == (ok["fast_places_no_worse"] and ok["fast_no_less_realistic"])
    for t0 in ("0.6", "0.4"):
        assert decisions[f"t0_{t0}"] == {"ode_places_better": ok[f"ode_places_better_t0_{t0}"],
                                         "sde_more_realistic": ok[f"sde_more_realistic_t0_{t0}"]}


def test_the_quick_run_writes_a_json_of_the_same_shape(tmp_path):
    out = study_switch.main(["--quick", "--out", str(tmp_path / "quick.json")])
    assert out["mode"] == "quick" and (tmp_path / "quick.json").exists()
    assert {t["id"] for t in out["tests"]} == {h[0] for h in study_switch.hypotheses((0.5,))}
    assert all(len(v["L1"]) == 4 for v in out["rows"].values())


def test_the_switch_reconstructs_exactly_on_the_64x64_model_of_the_run():
    from studies import exact_mixture as em

    scenes = em.TexturedObjectScenes(**study_switch.SCENE)
    x0 = scenes.sample(2, torch.Generator().manual_seed(5), points=study_switch.SOURCE)
    sigmas = em.drag_sigmas(40, 0.6)
    trajectory = em.sde_core.record_forward(x0, sigmas, generator=torch.Generator().manual_seed(6))
    for s in study_switch.SWITCH_POINTS:
        for ode_first in (True, False):
            etas = em.sde_core.switch_etas(len(sigmas) - 1, s, ode_first)
            out = em.sde_core.sample_cycle_sde(scenes.denoiser(), trajectory.latent_at_t0, sigmas,
                                               trajectory=trajectory, eta=etas, disable=True)
            assert (out - x0).abs().max().item() < 1e-10
