"""The drag study's declared measures (studies/eval_measures.py, studies/drag_trials.py)
checked on cases whose answers are known."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from studies import drag_trials as trials
from studies import eval_measures as em
from studies.eval_measures import scenes

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def case():
    c = em.drag_cases(7, 1)[0]
    moved = scenes.render_scene(c["params"], centroid=c["target"])[0]
    return c, moved


def test_the_true_moved_scene_scores_zero_and_the_unedited_input_does_not(case):
    c, moved = case
    region = c["mask"] > 0.5
    perfect = em.ground_truth(moved, moved, moved, c["image"], region, c["source"], c["target"])
    assert perfect["gt_l1"] == 0.0 and perfect["gt_l1_ae"] == 0.0
    # the object's core arrives unchanged: at most the shading across 3 px differs
    assert perfect["dai_1"] < 0.01
    unedited = em.ground_truth(c["image"], moved, moved, c["image"], region, c["source"], c["target"])
    assert unedited["gt_l1"] > 0.02 and unedited["dai_4"] > 10 * perfect["dai_4"]


def test_dai_is_the_mean_squared_patch_difference():
    rng = np.random.default_rng(0)
    original, result = rng.random((64, 64, 3)), rng.random((64, 64, 3))
    direct = ((result[27:36, 37:46] - original[7:16, 17:26]) ** 2).mean()
    assert em.dai(result, original, [21, 11], [41, 31], 4) == pytest.approx(direct, rel=1e-12)
    assert em.dai(original, original, [21, 11], [21, 11], 4) == 0.0
    # edge padding: a patch reaching outside the image still has (2g+1)^2 pixels
    assert em.patch(original, [0, 0], 4).shape == (9, 9, 3)


def test_c2st_is_near_chance_for_one_distribution_and_sees_a_shifted_one():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((200, 40)), rng.standard_normal((200, 40))
    same = em.c2st(a, b, dims=8)
    assert 0.4 < same["accuracy"] < 0.6 and same["p"] > 0.01
    shifted = b.copy()
    shifted[:, :4] += 1.0
    apart = em.c2st(a, shifted, dims=8)
    assert apart["accuracy"] > 0.75 and apart["p"] < 1e-6


def test_bootstrap_interval_holds_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(2)
    small, large = rng.standard_normal(50), rng.standard_normal(2000)
    lo, hi = em.bootstrap_ci(small)
    assert lo < small.mean() < hi
    lo2, hi2 = em.bootstrap_ci(large)
    assert (hi2 - lo2) < (hi - lo) / 4


def test_paired_sign_tests_count_the_cases_where_sde_is_lower():
    sde = [{"success": True, "identity_kept": True, "shape_kept": True, "centroid_error_px": 1.0, "gt_l1_ae": 0.01,
            "dai_4": 0.001}] * 9 + [{"success": False, "identity_kept": False, "shape_kept": False,
                                     "centroid_error_px": 5.0, "gt_l1_ae": 0.09, "dai_4": 0.02}]
    ode = [{"success": False, "identity_kept": True, "shape_kept": True, "centroid_error_px": 3.0, "gt_l1_ae": 0.03,
            "dai_4": 0.002}] * 10
    p = trials.paired(sde, ode)
    assert (p["success"]["sde_only"], p["success"]["ode_only"], p["success"]["neither"]) == (9, 0, 1)
    assert p["success"]["sign_test_p"] == pytest.approx(2 / 2 ** 9)
    lower = p["gt_l1_ae_sde_lower"]
    assert (lower["cases"], lower["of"]) == (9, 10)
    assert lower["mean_sde_minus_ode"] == pytest.approx((9 * -0.02 + 0.06) / 10)


def test_the_eval_reads_the_demo_presets_from_their_one_home():
    # the file itself, loaded apart from the eval's copy: the eval must not hold presets of its own
    spec = importlib.util.spec_from_file_location("presets_as_shipped", REPO / "nodes" / "presets.py")
    presets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(presets)
    assert trials.PRESETS.DEMO == presets.DEMO


def _plan(name, calls, errors, steps=50, t0=0.6, step_size=2):
    errors = np.asarray(errors, float)
    return {"plan": name, "rows_key": f"SDE {name}", "steps": steps, "t0": t0, "step_size": step_size, "r": 3,
            "unet_calls_per_case": calls, "gt_l1_ae": float(errors.mean()), "gt_l1_ae_ci95": em.bootstrap_ci(errors),
            "dai_4": 0.0, "shape_kept": 1.0, "successes": 0}


def test_figure_5_picks_the_cheapest_plan_within_the_paper_plans_interval():
    from studies import quality_per_call as qpc

    rng = np.random.default_rng(3)
    paper = 0.05 + 0.01 * rng.standard_normal(40)
    plans = {"200 steps": (240, paper), "100 steps": (120, paper + 0.0005), "25 steps": (30, paper + 0.02),
             "50 steps (demo preset)": (60, paper - 0.001)}
    study = {"n": 40, "date": "today", "cost": [], "per_case": {}}
    for name, (calls, errors) in plans.items():
        steps = int(name.split()[0])
        study["cost"].append(_plan(name, calls, errors, steps=steps))
        study["per_case"][f"SDE {name}"] = [{"gt_l1_ae": float(e)} for e in errors]
    demo = qpc.demo_curve(study)
    by = {c["plan"]: c for c in demo["curve"]}
    assert [c["plan"] for c in demo["curve"]] == ["25 steps", "50 steps (demo preset)", "100 steps", "200 steps"]
    assert by["200 steps"]["holds"] and by["200 steps"]["paired_minus_paper"] == 0.0
    assert by["100 steps"]["holds"] and not by["25 steps"]["holds"]
    assert demo["cheapest_holding"]["plan"] == "50 steps (demo preset)"
    assert by["50 steps (demo preset)"]["share_of_paper_calls"] == pytest.approx(0.25)
    lo, hi = by["25 steps"]["paired_minus_paper_ci95"]
    assert lo == pytest.approx(0.02) and hi == pytest.approx(0.02)  # a constant shift has no spread
    assert qpc.fast_preset_share(demo, {"steps": 50, "t0": 0.6, "step_size": 2, "r": 3})["holds"]
    assert qpc.fast_preset_share(demo, {"steps": 10, "t0": 0.6, "step_size": 2, "r": 3}) is None
