"""The demo-model arm of issue 28 (studies/study_switch_demo.py): its switch node is the pack's
SDE Drag node with per-step etas, equal to the two ends bit for bit at switch points 0 and 1;
its realism measure passes its controls in the committed run; its --quick smoke writes a JSON
of the confirmatory shape. The committed JSON's statistics: tests/test_confirmatory_switch_json.py."""
import json

import numpy as np
import pytest

from studies import drag_trials as trials
from studies import study_switch, study_switch_demo

SETTINGS = {"steps": 10, "t0": 0.6, "cfg": 3.0, "step_size": 2, "r": 3, "alpha": 1.1, "beta": 0.3}


@pytest.fixture(scope="module")
def demo(host):
    from studies.eval_demo import Demo

    return Demo(host=host)


@pytest.fixture(scope="module")
def one_case(demo):
    return trials.DragSet(demo, 20261208, 1)


def drag(demo, node, dragset, seed=7):
    images, _cost = trials.run_node(demo, node, dragset, "sde", SETTINGS, seed)
    return images


def test_the_switch_at_0_is_sde_drag_and_at_1_is_cycle_sde_at_eta_0_bit_for_bit(demo, one_case):
    sde = drag(demo, demo.drag_node, one_case)
    eta0 = drag(demo, trials.node_at_eta(demo, 0.0), one_case)
    assert np.array_equal(drag(demo, trials.node_at_switch(demo, 0.0), one_case), sde)
    assert np.array_equal(drag(demo, trials.node_at_switch(demo, 1.0), one_case), eta0)
    assert np.array_equal(drag(demo, trials.node_at_switch(demo, 1.0, ode_first=False), one_case), sde)
    half = drag(demo, trials.node_at_switch(demo, 0.5), one_case)
    assert not np.array_equal(half, sde) and not np.array_equal(half, eta0)
    assert np.isfinite(half).all()


def test_the_same_seed_gives_the_same_switch_drag(demo, one_case):
    node = trials.node_at_switch(demo, 0.25)
    assert np.array_equal(drag(demo, node, one_case), drag(demo, node, one_case))
    assert not np.array_equal(drag(demo, node, one_case, seed=7), drag(demo, node, one_case, seed=8))


def test_the_demo_parts_keep_each_cases_seed(demo):
    dragset = trials.DragSet(demo, 20261208, 3)
    whole = drag(demo, demo.drag_node, dragset, seed=11)
    tail = drag(demo, demo.drag_node, dragset.part(1, 3), seed=12)
    assert np.array_equal(whole[1:], tail)


def test_the_committed_runs_realism_measure_passes_its_controls():
    for mode in ("pilot", "confirmatory"):
        with open(study_switch_demo.OUT[mode]) as f:
            refs = json.load(f)["references"]
        null, pasted = refs["fresh scenes (null)"]["R"], refs["pasted square, unblended (positive control)"]["R"]
        # the unblended paste must score clearly farther from fresh scenes than other fresh scenes do
        assert pasted["mean"] - pasted["ci95"] > null["mean"] + null["ci95"], mode
        # and other fresh scenes score about sqrt(32), as a 32-dimensional Mahalanobis distance should
        assert 4.5 < null["mean"] < 7.0, mode


def test_the_quick_run_writes_a_json_of_the_confirmatory_shape(host, tmp_path):
    out = study_switch_demo.main(["--quick", "--out", str(tmp_path / "quick.json")], host=host)
    assert out["mode"] == "quick" and (tmp_path / "quick.json").exists()
    expected = [h[0] for h in study_switch.hypotheses(study_switch_demo.SWITCH_POINTS, *study_switch_demo.MEASURES)]
    assert [t["id"] for t in out["tests"]] == expected
    assert set(out["rows"]) == set(study_switch_demo.arms("quick"))
    assert all(len(v["P"]) == 4 and len(v["R"]) == 4 for v in out["rows"].values())
    assert all(np.isfinite(v["P"]).all() and np.isfinite(v["R"]).all() for v in out["rows"].values())
