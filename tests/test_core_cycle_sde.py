"""Cycle-SDE: recording, the recorded noise, exact reconstruction, one batched call a step."""

import itertools

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from core_problems import GAUSSIAN, MIXTURE, edit_sigmas, recorded_mixture

SEED = 1234
SCHEDULES = {"vp": sde_core.VP, "flow": sde_core.FLOW}
PROBLEMS = {"gaussian": GAUSSIAN, "mixture": MIXTURE}
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def _mask(height=6, width=6):
    mask = torch.zeros(height, width)
    mask[1:4, 2:6] = 1
    return mask


GRID = list(itertools.product(PROBLEMS, SCHEDULES, (10, 50, 200), (False, True), TOLERANCE))


@pytest.mark.parametrize(
    "problem, kind, steps, masked, dtype", GRID,
    ids=[f"{p}-{k}-{n}steps-{'mask' if m else 'nomask'}-{str(d)[6:]}" for p, k, n, m, d in GRID],
)
def test_cycle_sde_without_an_edit_reproduces_the_input(problem, kind, steps, masked, dtype):
    schedule, problem = SCHEDULES[kind], PROBLEMS[problem]
    gen = torch.Generator().manual_seed(SEED)
    x0 = problem.sample((2, 6, 6), gen, dtype=dtype)
    for t0 in (0.6, 1.0):
        sigmas = edit_sigmas(schedule, steps, t0)
        trajectory = sde_core.record_forward(x0, sigmas, schedule, generator=gen)
        out = sde_core.sample_cycle_sde(
            problem.denoiser(schedule), trajectory.latent_at_t0, sigmas, trajectory=trajectory,
            schedule=schedule, mask=_mask() if masked else None,
        )
        assert out.dtype == dtype
        assert (out - x0).abs().max().item() < TOLERANCE[dtype], (t0, (out - x0).abs().max().item())


class CountingModel:
    """Wraps a denoiser and records the batch it was called with."""

    def __init__(self, model):
        self.model, self.batches, self.kwargs = model, [], []

    def __call__(self, x, sigma, **kwargs):
        self.batches.append((x.clone(), sigma.clone()))
        self.kwargs.append(kwargs)
        return self.model(x, sigma)


def test_cycle_sde_makes_one_model_call_per_step_on_edited_rows_then_recorded_rows():
    sigmas = edit_sigmas(sde_core.VP, 8, 0.6)
    gen = torch.Generator().manual_seed(SEED)
    x0 = MIXTURE.sample((2, 4, 4), gen)
    trajectory = sde_core.record_forward(x0, sigmas, generator=gen)
    edited = trajectory.latent_at_t0 + 0.5
    model = CountingModel(MIXTURE.denoiser(sde_core.VP))
    sde_core.sample_cycle_sde(
        model, edited, sigmas, extra_args={"cond": "c"}, trajectory=trajectory,
        step_kwargs=lambda i: {"cfg": float(i)},
    )
    assert len(model.batches) == 8
    for i, (batch, sigma) in enumerate(model.batches):
        assert batch.shape[0] == 4 and torch.equal(sigma, sigmas[i].expand(4))
        assert torch.equal(batch[2:], trajectory.states[i])  # recorded half second
    assert torch.equal(model.batches[0][0][:2], edited)  # edited half first
    assert model.kwargs == [{"cond": "c", "cfg": float(i)} for i in range(8)]


def test_cycle_step_is_the_posterior_mean_plus_std_times_the_recorded_noise():
    schedule = sde_core.VP
    gen = torch.Generator().manual_seed(SEED)
    x, d, x_rec, d_rec, x_next = (torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64) for _ in range(5))
    for sigma, sigma_next in ((14.6, 9.0), (2.3, 2.1), (0.1, 0.03)):
        coef_x, coef_x0, std = sde_core.posterior(schedule, sigma, sigma_next)
        w_bar = sde_core.recorded_noise(schedule, x_rec, d_rec, x_next, sigma, sigma_next)
        torch.testing.assert_close(coef_x * x_rec + coef_x0 * d_rec + std * w_bar, x_next)
        torch.testing.assert_close(
            sde_core.cycle_step(schedule, x, d, x_rec, d_rec, x_next, sigma, sigma_next),
            coef_x * x + coef_x0 * d + std * w_bar,
        )


def test_cycle_step_on_the_last_step_moves_the_denoised_latent_by_the_recorded_residual():
    x, d, x_rec, d_rec, x_next = (torch.full((1, 1, 1, 1), v, dtype=torch.float64) for v in (3, 1, 2, 0.5, 0.75))
    out = sde_core.cycle_step(sde_core.FLOW, x, d, x_rec, d_rec, x_next, 0.2, 0.0)
    assert out.item() == 1 + (0.75 - 0.5)


def test_an_edit_inside_the_mask_leaves_every_cell_outside_it_bit_equal_to_the_input():
    schedule = sde_core.FLOW
    x0, sigmas, trajectory = recorded_mixture(schedule, 30, 0.6, (1, 6, 6), SEED)
    mask = _mask()
    edited = trajectory.latent_at_t0 + 2.0 * mask
    out = sde_core.sample_cycle_sde(
        MIXTURE.denoiser(schedule), edited, sigmas, trajectory=trajectory, schedule=schedule, mask=mask,
    )
    assert torch.equal(out[..., mask == 0], x0[..., mask == 0])
    assert (out[..., mask == 1] - x0[..., mask == 1]).abs().max() > 0.1


def test_record_forward_is_seeded_batch_aware_and_starts_from_the_clean_input():
    sigmas = edit_sigmas(sde_core.VP, 10, 0.6)
    x0 = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
    one = sde_core.record_forward(x0, sigmas, generator=torch.Generator().manual_seed(SEED))
    two = sde_core.record_forward(x0, sigmas, generator=torch.Generator().manual_seed(SEED))
    assert torch.equal(one.states, two.states) and torch.equal(one.states[-1], x0)
    assert one.states.shape == (11, 2, 3, 4, 4) and one.nbytes() == (11 * 96 + 11) * 8
    assert not torch.equal(one.states[0, 0], one.states[0, 1])  # each item its own noise


def test_record_forward_takes_a_noise_sampler_called_from_the_lower_level_up():
    sigmas = edit_sigmas(sde_core.VP, 3, 0.6)
    calls = []

    def sampler(sigma, sigma_next):
        calls.append((sigma, sigma_next))
        return torch.ones(1, 1, 1, 1, dtype=torch.float64)

    sde_core.record_forward(torch.zeros(1, 1, 1, 1, dtype=torch.float64), sigmas, noise_sampler=sampler)
    levels = sigmas.tolist()
    assert calls == [(levels[3], levels[2]), (levels[2], levels[1]), (levels[1], levels[0])]


@pytest.mark.parametrize("kind", SCHEDULES)
def test_forward_noising_matches_the_closed_form_marginal_within_sampling_error(kind):
    schedule = SCHEDULES[kind]
    sigmas = edit_sigmas(schedule, 20, 0.6)
    gen = torch.Generator().manual_seed(SEED)
    x0 = MIXTURE.sample((64, 16, 16), gen)
    trajectory = sde_core.record_forward(x0, sigmas, schedule, generator=gen)
    one_shot = sde_core.noise_to(schedule, x0, sigmas[0].item(), torch.randn(x0.shape, generator=gen, dtype=x0.dtype))
    n = x0.numel() // x0.shape[1]
    for sigma, states in [(sigmas[0].item(), one_shot), *zip(sigmas.tolist(), trajectory.states)]:
        flat = states.permute(1, 0, 2, 3).reshape(3, -1)  # [C, N]
        mean, cov = MIXTURE.marginal_moments(schedule, sigma)[0], MIXTURE.marginal_cov(schedule, sigma)
        var = cov.diagonal()
        assert ((flat.mean(1) - mean).abs() < 5 * (var / n).sqrt()).all(), sigma
        # the mixture is not Gaussian: sqrt(kurtosis - 1) < 3 bounds the covariance's error
        bound = 5 * 3 * (var[:, None] * var[None, :]).sqrt() / n**0.5
        assert ((torch.cov(flat) - cov).abs() < bound).all(), sigma


def test_sample_ode_masked_keeps_the_unmasked_region_from_the_trajectory():
    schedule = sde_core.VP
    sigmas = edit_sigmas(schedule, 20, 0.6)
    model = GAUSSIAN.denoiser(schedule)
    x = GAUSSIAN.sample((1, 6, 6), torch.Generator().manual_seed(SEED))
    trajectory = sde_core.ddim_invert(model, x, sigmas, sigma_min=0.0292)
    mask = _mask()
    seen = []
    out = sde_core.sample_ode_masked(
        model, trajectory.latent_at_t0 + mask, sigmas, trajectory=trajectory, mask=mask,
        callback=lambda p: seen.append(p["x"]),
    )
    assert torch.equal(out[..., mask == 0], x[..., mask == 0])
    for i, state in enumerate(seen[1:], start=1):
        assert torch.equal(state[..., mask == 0], trajectory.states[i][..., mask == 0])
