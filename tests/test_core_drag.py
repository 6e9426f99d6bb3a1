"""SDE-Drag pieces: sub-drag planning, border-adaptive copy-paste, and the whole loop."""

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from core_problems import MIXTURE, edit_sigmas

SEED = 1234
DTYPE = torch.float64


def _randn(*shape, seed=SEED):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


# ----------------------------------------------------------------------------- planning
PLANS = [
    # (sources, targets, step_size, expected [(sub-drag sources, sub-drag targets)])
    ([[0, 0]], [[0, 0]], 2, [([[0, 0]], [[0, 0]])]),  # no move: one sub-drag
    ([[0, 0]], [[2, 0]], 2, [([[0, 0]], [[2, 0]])]),  # d == step_size: one
    ([[0, 0]], [[3, 0]], 2, [([[0, 0]], [[1, 0]]), ([[1, 0]], [[3, 0]])]),  # 3/2 beats 3/1
    ([[0, 0]], [[5, 0]], 2, [([[0, 0]], [[1, 0]]), ([[1, 0]], [[3, 0]]), ([[3, 0]], [[5, 0]])]),
    ([[0, 0]], [[7, 0]], 2, [([[0, 0]], [[1, 0]]), ([[1, 0]], [[3, 0]]), ([[3, 0]], [[5, 0]]), ([[5, 0]], [[7, 0]])]),
    ([[0, 0]], [[10, 0]], 2, [([[2 * i, 0]], [[2 * i + 2, 0]]) for i in range(5)]),  # 10/5 exact
    (  # two pairs: the longest (length 10) sets n = 5, the short one moves 0.4 cells a sub-drag
        [[0, 0], [10, 10]], [[6, 8], [10, 8]], 2,
        [
            ([[0, 0], [10, 10]], [[1, 1], [10, 9]]),
            ([[1, 1], [10, 9]], [[2, 3], [10, 9]]),
            ([[2, 3], [10, 9]], [[3, 4], [10, 8]]),
            ([[3, 4], [10, 8]], [[4, 6], [10, 8]]),
            ([[4, 6], [10, 8]], [[6, 8], [10, 8]]),
        ],
    ),
]


@pytest.mark.parametrize("sources, targets, step_size, expected", PLANS, ids=[str(p[:2]) for p in PLANS])
def test_subdrag_planning_follows_the_papers_rule_on_worked_examples(sources, targets, step_size, expected):
    plan = sde_core.plan_subdrags(torch.tensor(sources, dtype=DTYPE), torch.tensor(targets, dtype=DTYPE), step_size)
    assert [(s.tolist(), t.tolist()) for s, t in plan] == expected
    assert all(s.dtype == torch.long and t.dtype == torch.long for s, t in plan)


def test_whole_cells_plan_as_the_authors_code_does():
    """The issue's examples: the nodes round pixels down to cells before planning (the authors' order).
    (200, 200) -> (263, 263) px is (25, 25) -> (32, 32) cells: 5 sub-drags (fractional cells gave 6);
    60 -> 100 px along x is 7 -> 12 cells, walked 7, 8, 10, 12 (fractional: 7, 9, 10, 12)."""
    plan = sde_core.plan_subdrags(torch.tensor([[25.0, 25.0]]), torch.tensor([[32.0, 32.0]]), 2)
    assert len(plan) == 5
    walk = sde_core.plan_subdrags(torch.tensor([[7.0, 0.0]]), torch.tensor([[12.0, 0.0]]), 2)
    assert [int(s[0, 0]) for s, _ in walk] + [int(walk[-1][1][0, 0])] == [7, 8, 10, 12]


def _noise_draws(seed=1):
    """A refill-noise function (one fresh draw per pair) that keeps what it drew."""
    gen, drawn = torch.Generator().manual_seed(seed), []

    def noise(shape):
        drawn.append(torch.randn(shape, generator=gen, dtype=DTYPE))
        return drawn[-1]

    return noise, drawn


# ----------------------------------------------------------------------------- copy-paste
def test_copy_paste_puts_alpha_times_the_pre_refill_source_at_the_target_and_refills_the_rest():
    # r = 5 and a 2-cell step: the squares overlap, and the target overwrites the overlap.
    x, (noise, drawn) = _randn(2, 3, 16, 16), _noise_draws()
    before = x.clone()
    scale, alpha, beta = 2.5, 1.1, 0.3
    out = sde_core.copy_paste(x, [[6, 7]], [[8, 7]], 5, alpha, beta, noise, scale)
    assert torch.equal(x, before)  # never mutates its input
    rows, src_cols, tgt_cols = slice(2, 12), slice(1, 11), slice(3, 13)
    assert torch.equal(out[..., rows, tgt_cols], alpha * x[..., rows, src_cols])
    assert len(drawn) == 1 and drawn[0].shape == (2, 3, 10, 10)  # one draw of the source square's shape
    refill = slice(1, 3)  # the part of the source square the target does not cover
    expected = scale * (beta * x[..., rows, refill] / scale + (1 - beta**2) ** 0.5 * drawn[0][..., :, 0:2])
    torch.testing.assert_close(out[..., rows, refill], expected, rtol=1e-14, atol=1e-14)
    untouched = torch.ones(16, 16, dtype=torch.bool)
    untouched[rows, 1:13] = False
    assert torch.equal(out[..., untouched], x[..., untouched])


def test_copy_paste_shrinks_the_radius_per_side_so_both_squares_fit_near_the_border():
    src, tgt = sde_core.patch_bounds((1, 14), (3, 15), 5, 16, 16)
    assert src == (slice(9, 15), slice(0, 6)) and tgt == (slice(10, 16), slice(2, 8))
    x = _randn(1, 2, 16, 16)
    out = sde_core.copy_paste(x, [[1, 14]], [[3, 15]], 5, 1.1, 0.3, lambda shape: torch.zeros(shape, dtype=DTYPE))
    assert torch.equal(out[..., 10:16, 2:8], 1.1 * x[..., 9:15, 0:6])
    corner = sde_core.patch_bounds((0, 0), (15, 15), 5, 16, 16)
    assert corner == ((slice(0, 1), slice(0, 1)), (slice(15, 16), slice(15, 16)))


def test_copy_paste_of_several_pairs_applies_them_in_order_each_on_the_previous_result():
    # the noise functions restart their seed per call, so the split run draws what the joint run draws
    x = _randn(2, 3, 16, 16)
    pairs = ([[3, 3], [7, 4]], [[5, 4], [10, 9]])  # pair 1's source overlaps pair 0's target
    both = sde_core.copy_paste(x, *pairs, 2, 1.1, 0.3, _noise_draws()[0])
    split_noise = _noise_draws()[0]
    first = sde_core.copy_paste(x, pairs[0][:1], pairs[1][:1], 2, 1.1, 0.3, split_noise)
    second = sde_core.copy_paste(first, pairs[0][1:], pairs[1][1:], 2, 1.1, 0.3, split_noise)
    assert torch.equal(both, second)
    reversed_order = sde_core.copy_paste(x, pairs[0][::-1], pairs[1][::-1], 2, 1.1, 0.3, _noise_draws()[0])
    assert not torch.equal(both, reversed_order)
    assert torch.equal(both[0, :, 7:11, 8:12], 1.1 * first[0, :, 2:6, 5:9])  # same points for every item
    assert torch.equal(both[1, :, 7:11, 8:12], 1.1 * first[1, :, 2:6, 5:9])


def test_each_pair_gets_a_fresh_refill_so_overlapping_source_squares_are_not_correlated():
    """The authors draw refill noise per pair; slicing one tensor gave two overlapping source
    squares the same noise on their overlap."""
    x, (noise, drawn) = torch.zeros(1, 1, 16, 16, dtype=DTYPE), _noise_draws()
    out = sde_core.copy_paste(x, [[5, 5], [6, 5]], [[12, 12], [13, 12]], 2, 1.0, 0.0, noise)
    assert len(drawn) == 2 and not torch.equal(drawn[0], drawn[1])
    assert torch.equal(out[0, 0, 3:7, 4:8], drawn[1][0, 0])  # the second pair's refill is its own draw


# ----------------------------------------------------------------------------- the loop
SIGMAS = edit_sigmas(sde_core.VP, 12, 0.6)


def _setup(height=10, width=12):
    latent = MIXTURE.sample((1, height, width), torch.Generator().manual_seed(SEED))
    mask = torch.zeros(height, width, dtype=DTYPE)
    mask[1:8, 0:11] = 1
    return latent, mask


def _drag(latent, seed=SEED, **kwargs):
    args = dict(paste=sde_core.CopyPaste(r=2, step_size=2), method=sde_core.sde_method(sde_core.VP),
                noise=sde_core.NoiseSource(torch.Generator().manual_seed(seed)))
    args.update(kwargs)
    return sde_core.sde_drag(MIXTURE.denoiser(sde_core.VP), latent, SIGMAS, sources=[[2, 3]], targets=[[7, 3]], **args)


def test_sde_drag_with_nothing_to_move_reproduces_the_input():
    latent, _ = _setup()
    out, frames = sde_core.sde_drag(
        MIXTURE.denoiser(sde_core.VP), latent, SIGMAS, sources=[[4, 4]], targets=[[4, 4]],
        paste=sde_core.CopyPaste(alpha=1.0, beta=1.0), noise=sde_core.NoiseSource(torch.Generator().manual_seed(SEED)),
        method=sde_core.sde_method(sde_core.VP),
    )
    assert len(frames) == 1 and frames[-1] is out
    assert (out - latent).abs().max() < 1e-10


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_sde_drag_below_eta_one_still_reproduces_the_input_and_differs_from_eta_one(eta):
    latent, mask = _setup()
    still, _ = sde_core.sde_drag(
        MIXTURE.denoiser(sde_core.VP), latent, SIGMAS, sources=[[4, 4]], targets=[[4, 4]],
        paste=sde_core.CopyPaste(alpha=1.0, beta=1.0), noise=sde_core.NoiseSource(torch.Generator().manual_seed(SEED)),
        method=sde_core.sde_method(sde_core.VP, eta=eta),
    )
    assert (still - latent).abs().max() < 1e-10
    moved = _drag(latent, mask=mask, method=sde_core.sde_method(sde_core.VP, eta=eta))[0]
    assert (moved - _drag(latent, mask=mask)[0]).abs().max() > 1e-3


def test_sde_method_refuses_eta_outside_zero_one():
    with pytest.raises(ValueError, match="eta must be in"):
        sde_core.sde_method(sde_core.VP, eta=1.5)


def test_sde_drag_returns_one_frame_per_subdrag_and_keeps_the_unmasked_region_exactly():
    latent, mask = _setup()
    steps = []
    result = _drag(latent, mask=mask, callback=steps.append)
    out, frames = result
    assert isinstance(result, sde_core.DragResult) and result.latent is out
    assert len(frames) == 3 and frames[-1] is out  # d = 5 cells, step 2: three sub-drags
    assert [p["subdrag"] for p in steps] == [k for k in range(3) for _ in range(12)]
    assert [p["i"] for p in steps[:12]] == list(range(12))
    for frame in frames:
        assert torch.equal(frame[..., mask == 0], latent[..., mask == 0])
    assert (out[..., mask == 1] - latent[..., mask == 1]).abs().max() > 0.1


def test_sde_drag_is_reproducible_from_the_generator_seed():
    latent, mask = _setup()
    assert torch.equal(_drag(latent, mask=mask)[0], _drag(latent, mask=mask)[0])
    assert not torch.equal(_drag(latent, mask=mask)[0], _drag(latent, seed=7, mask=mask)[0])


def test_ode_drag_inverts_each_subdrags_input_which_is_the_previous_subdrags_result():
    latent, mask = _setup()
    clean_inputs = []
    model = MIXTURE.denoiser(sde_core.VP)

    def spy(x, sigma, **kwargs):
        if sigma[0].item() == 0.0292:  # DDIM inversion's first read, on the clean latent
            clean_inputs.append(x.clone())
        return model(x, sigma)

    out, frames = sde_core.sde_drag(
        spy, latent, SIGMAS, sources=[[2, 3]], targets=[[7, 3]], paste=sde_core.CopyPaste(r=2), mask=mask,
        method=sde_core.ode_method(sde_core.VP, sigma_min=0.0292),
        noise=sde_core.NoiseSource(torch.Generator().manual_seed(SEED)),
    )
    assert len(clean_inputs) == 3
    assert torch.equal(clean_inputs[0], latent)
    assert torch.equal(clean_inputs[1], frames[0]) and torch.equal(clean_inputs[2], frames[1])
    for frame in frames:
        assert torch.equal(frame[..., mask == 0], latent[..., mask == 0])
