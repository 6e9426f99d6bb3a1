"""`python -m studies.eval_demo --quick` (SDE vs ODE on the demo model) as a smoke test: every
figure is computed and finite and the JSON says how it was made (the values themselves are
what the full run reports, not asserted here). Plus the measures it rests on, checked on
cases with known answers."""
import numpy as np
import pytest
from quick_runs import finite, run_quick

from studies import eval_measures as em

DRAG_NUMBERS = ("centroid_error_px", "centroid_error_px_median", "left_at_source", "area_ratio", "background_psnr_db",
                "colour_kept", "shape_kept", "identity_kept", "frechet", "success_rate")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    return run_quick("eval_demo", tmp_path_factory.mktemp("eval") / "eval_demo.json")


def test_quick_eval_computes_every_figure(quick_run):
    proc, r = quick_run
    assert r["mode"] == "quick" and "--quick" in r["command"] and "studies.eval_demo" in r["command"]
    assert all(isinstance(v, int) for v in r["seeds"].values()) and r["weights"]
    drag = r["drag"]
    assert drag["n"] >= 2 and drag["preset"]["steps"] > 0 and len(drag["t0"]) >= 2
    for t0 in drag["t0"]:
        for method in ("SDE", "ODE"):
            m = drag["methods"][f"{method}-Drag t0 {t0:g}"]
            for key in DRAG_NUMBERS + ("seconds_per_case", "unet_calls_per_case", "unet_rows_per_case"):
                assert finite(m[key]), (method, t0, key, m[key])
            assert m["unet_calls_per_case"] > 0
            rows = drag["per_case"][f"{method}-Drag t0 {t0:g}"]
            assert len(rows) == drag["n"] and all(finite(row["centroid_error_px"]) for row in rows)
    for name in ("input, no edit (AE)", "true moved scene (AE)"):
        ref = drag["methods"][name]
        assert all(finite(ref[k]) for k in DRAG_NUMBERS if ref[k] is not None)
    assert finite(drag["identity_classifier"]["shape_accuracy"])

    i2i = r["img2img"]
    assert i2i["n"] >= 2 and i2i["steps"] > 0 and 0 < i2i["t0"] < 1
    for name in ("SDE (eta 1)", "ODE (eta 0)"):
        m = i2i["methods"][name]
        assert all(finite(m[k]) for k in ("frechet", "l2_quarter", "l2_quarter_blob", "l2_quarter_hue"))

    inp = r["inpaint"]
    assert set(inp["masks"]) == {"small", "large"} and inp["n"] >= 2
    for size in ("small", "large"):
        for steps in inp["steps"]:
            for method in ("SDE", "ODE"):
                m = inp["methods"][f"{size} mask: {method} {steps} steps"]
                assert all(finite(m[k]) for k in ("frechet", "single_shape", "psnr_far_outside_mask_db")), m
                assert m["kept_latent_max_abs_diff"] < 1e-4  # outside the mask the latent is the input's
    assert all(finite(v) for v in r["frechet_floor"]["by_n"].values())
    assert isinstance(r["ode_wins"], list) and finite(r["timings"]["total_s"])
    for heading in ("## Drag", "## Image-to-image", "## Inpainting", "## Where ODE wins"):
        assert heading in proc.stdout


def test_frechet_distance_matches_the_direct_formula():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((120, 12)) @ rng.standard_normal((12, 12))
    b = rng.standard_normal((90, 12)) + 0.5
    mu_a, mu_b, s_a, s_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s_a)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ s_b @ root), 0, None)).sum()
    direct = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross
    assert em.frechet_distance(a, b) == pytest.approx(direct, rel=1e-9)
    assert abs(em.frechet_distance(a, a)) < 1e-8


def test_flood_fill_counts_components():
    mask = np.zeros((64, 64), bool)
    mask[2:6, 2:6] = True
    mask[10:12, 30:40] = True
    mask[6, 6] = True  # diagonal neighbour only: its own 4-connected component
    labels, sizes = em.components(mask)
    assert sorted(sizes) == [1, 16, 20] and labels.max() == 3


def test_identity_classifier_reads_clean_scenes():
    cases = em.drag_cases(5, 24)
    for case in cases:
        idn = em.identity(case["image"], case["source"], case["extent"])
        assert (idn["colour"], idn["shape"]) == (case["colour"], case["shape"])
        length = np.hypot(*(np.subtract(case["target"], case["source"])))
        assert 10 <= length <= 16 and case["mask"].sum() > 0
