"""The realism measures of studies/eval_demo.py shown able to fail: the two-sample test must
detect a known artefact (a square pasted without blending) and must not flag fresh scenes, and
the Frechet gap between two methods carries a paired bootstrap interval that behaves."""
import numpy as np
import pytest

from studies import eval_measures as em
from studies.eval_measures import scenes

N_CONTROL = 200  # the drag's N in the eval: the controls are checked at the size they are reported at


def test_the_unblended_paste_copies_the_source_square_onto_the_target_and_nothing_else():
    rng = np.random.default_rng(0)
    image = rng.random((64, 64, 3)).astype(np.float32)
    out = em.paste_unblended(image, [20.2, 30.0], [33.0, 29.6], 4)
    assert np.array_equal(out[26:35, 29:38], image[26:35, 16:25])
    changed = np.zeros((64, 64), bool)
    changed[26:35, 29:38] = True
    assert np.array_equal(out[~changed], image[~changed])
    assert not np.shares_memory(out, image)
    # at the border only the part whose source and target both lie inside is pasted
    edge = em.paste_unblended(image, [2, 10], [60, 10], 4)
    assert np.array_equal(edge[6:15, 58:64], image[6:15, 0:6]) and np.array_equal(edge[:, :58], image[:, :58])


def test_local_statistics_follow_their_formulas():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((3, 4, 16, 16))
    f = em.local_statistics(z)
    assert f.shape == (3, 32)
    dx = np.abs(z[1, 2, :, 1:] - z[1, 2, :, :-1])
    assert f[1, 2] == pytest.approx(z[1, 2].mean())
    assert f[1, 4 + 2] == pytest.approx(z[1, 2].std())
    assert f[1, 8 + 2] == pytest.approx((dx ** 2).mean())
    assert f[1, 16 + 2] == pytest.approx(dx.max())
    # translation-invariant: a circular shift changes only the differences across the wrap
    assert np.allclose(em.local_statistics(np.roll(z, 3, axis=-1))[:, :8], f[:, :8])


@pytest.fixture(scope="module")
def gap_sets():
    rng = np.random.default_rng(2)
    mix = rng.standard_normal((6, 6))
    draw = lambda n: rng.standard_normal((n, 6)) @ mix  # noqa: E731
    return draw(40), draw(40), draw(60)


def test_the_frechet_gap_is_the_difference_of_the_two_distances_and_zero_for_one_set(gap_sets):
    a, b, ref = gap_sets
    g = em.frechet_gap(a, b, ref, seed=0, n_boot=100)
    assert g["gap"] == pytest.approx(em.frechet_distance(a, ref) - em.frechet_distance(b, ref), rel=1e-12)
    same = em.frechet_gap(a, a, ref, seed=0, n_boot=100)
    assert same["gap"] == 0.0 and same["ci95"] == [0.0, 0.0]


def test_the_gap_interval_holds_zero_for_one_distribution_and_excludes_it_for_a_shifted_one(gap_sets):
    a, b, ref = gap_sets
    g = em.frechet_gap(a, b, ref, seed=0, n_boot=100)
    assert g["ci95"][0] < 0 < g["ci95"][1]
    shifted = b + 0.6 * np.linalg.norm(b.std(0)) / np.sqrt(b.shape[1])  # every coordinate moved by ~0.6 sd
    apart = em.frechet_gap(a, shifted, ref, seed=0, n_boot=100)
    assert apart["gap"] < 0 and apart["ci95"][1] < 0  # a is the nearer to the reference
    assert em.frechet_gap(shifted, a, ref, seed=0, n_boot=100)["ci95"][0] > 0


def test_the_gap_interval_is_a_function_of_its_seed(gap_sets):
    a, b, ref = gap_sets
    first, again = (em.frechet_gap(a, b, ref, seed=5, n_boot=50) for _ in range(2))
    assert first == again
    assert em.frechet_gap(a, b, ref, seed=6, n_boot=50)["ci95"] != first["ci95"]
    with pytest.raises(ValueError, match="one row per case"):
        em.frechet_gap(a, b[:-1], ref)


@pytest.fixture(scope="module")
def demo_controls(host):
    """The eval's own control path on the demo model (its cases, paste, encoder and features), with
    the local test only: the declared test on 1024 features costs a minute on a busy machine, and
    the eval reports it."""
    from studies import eval_demo as ed

    demo = ed.Demo(host=host)
    cases = em.drag_cases(ed.SEEDS["drag_scenes"], N_CONTROL)
    fresh, _ = scenes.generate_batch(ed.SEEDS["fresh_scenes"], N_CONTROL)
    other, _ = scenes.generate_batch(ed.SEEDS["fresh_scenes"] + 1, N_CONTROL)
    local = lambda images: demo.realism_features(images)["local"]  # noqa: E731
    fresh_local = local(fresh.permute(0, 2, 3, 1).numpy())
    test = lambda images: em.c2st(local(images), fresh_local, seed=ed.SEEDS["c2st"], dims=ed.C2ST_DIMS)  # noqa: E731
    return {"positive": test(ed.pasted_squares(demo, cases)),
            "null": test(demo.roundtrip(other.permute(0, 2, 3, 1).numpy())),
            "no edit": test(demo.roundtrip(np.stack([c["image"] for c in cases])))}


def test_the_local_two_sample_test_detects_the_unblended_paste_on_the_demo_encoder(demo_controls):
    pos = demo_controls["positive"]
    assert pos["n"] == 2 * N_CONTROL
    assert pos["accuracy"] > 0.6 and pos["p"] < 1e-6, pos


def test_the_local_two_sample_test_does_not_flag_fresh_scenes_nor_the_unedited_inputs(demo_controls):
    # the inputs are the same scenes as the positive control's, without the paste: what it detects is the paste
    for name in ("null", "no edit"):
        assert demo_controls[name]["accuracy"] < 0.56 and demo_controls[name]["p"] > 0.05, (name, demo_controls[name])


def test_the_distance_from_gram_matrices_is_the_direct_one_on_a_resample():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((50, 300)) + 2.0, rng.standard_normal((70, 300)) * 1.5
    i, j = rng.integers(0, 50, 50), rng.integers(0, 70, 70)
    grams = (a[i] @ a[i].T, a[i] @ b[j].T, b[j] @ b[j].T)
    assert em.frechet_from_grams(*grams) == pytest.approx(em.frechet_distance(a[i], b[j]), rel=1e-9)
