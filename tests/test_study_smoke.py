"""`studies/study_drag.py --quick` (the causes of SDE-Drag's loss on the demo model) as a
smoke test: every experiment runs, both methods share cases and seeds, and the JSON says how
it was made (the values are the full run's to report, not asserted)."""
import pytest
from quick_runs import finite, run_quick


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    return run_quick("study_drag", tmp_path_factory.mktemp("study") / "study_drag.json", "--n", "2",
                     "--n-prior", "3")


def test_the_quick_study_runs_every_experiment_and_says_how(quick_study):
    proc, r = quick_study
    assert r["complete"] and r["mode"] == "quick" and "studies.study_drag" in r["command"]
    assert {"prior", "grid", "steps", "cost", "lora", "lora_cost", "eta"} <= set(r)
    assert all(c["lora_steps"] > 0 and c["train_seconds_per_case"] > 0 for c in r["lora_cost"])
    assert r["prior"]["rows"]["input (AE)"]["colour_kept"] > 0
    for point in r["grid"]:
        for method in ("sde", "ode"):
            assert finite(point[method]["gt_l1_ae"]) and point[method]["unet_calls_per_case"] > 0
        assert point["paired"]["gt_l1_ae_sde_lower"]["of"] <= r["n"]
    assert r["lora"]["lora"]["cases"] == 2 and set(r["lora"]) == {"lora", "without", "with"}
    assert all(c["rows_key"] in r["per_case"] for c in r["cost"])
    etas = [row["eta"] for row in r["eta"]]
    assert etas == [1.0, 0.5, None]  # SDE-Drag, an inner eta, ODE-Drag, at one t0 in the quick run
    inner = r["eta"][1]
    assert inner["method"] == "sde" and inner["eta"] == 0.5 and finite(inner["gt_l1_ae"])
    assert r["per_case"]["SDE eta 0.5 t0 0.6"] != r["per_case"]["SDE t0 0.6 alpha 1.1 cfg 3"]
    assert inner["vs_ode"]["gt_l1_ae_sde_lower"]["of"] <= r["n"]
    for name, rows in r["per_case"].items():
        assert len(rows) == r["n"], name
    for heading in ("## Cause 1, the prior", "## Causes 5 and 6", "## Cause 2, steps", "## Cause 3, identity LoRA",
                    "## Identity LoRA cost", "## Beyond the two ends", "## Cost: SDE-Drag plans"):
        assert heading in proc.stdout
