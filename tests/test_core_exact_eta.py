"""Cycle-SDE with DDIM's eta (``cycle_step_eta``): the recorded noise defined with the same
eta, so an unedited latent retraces its recording for every eta; eta = 1 is the paper's step
bit for bit; eta -> 0 is DDIM plus the recorded residual."""

import itertools

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from core_problems import MIXTURE, edit_sigmas, recorded_mixture

SEED = 4321
ETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
SCHEDULES = {"vp": sde_core.VP, "flow": sde_core.FLOW}
LEVELS = ((14.6, 9.0), (2.3, 2.1), (0.1, 0.03), (0.6, 0.4))  # flow reads only those below 1


def _five(seed=SEED):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64) for _ in range(5)]


def _levels(kind):
    return [lv for lv in LEVELS if kind == "vp" or lv[0] < 1]


GRID = list(itertools.product(SCHEDULES, (10, 50), ETAS, (False, True)))


@pytest.mark.parametrize(
    "kind, steps, eta, masked", GRID,
    ids=[f"{k}-{n}steps-eta{e:g}-{'mask' if m else 'nomask'}" for k, n, e, m in GRID],
)
def test_cycle_sde_reconstructs_the_input_exactly_for_every_eta(kind, steps, eta, masked):
    schedule = SCHEDULES[kind]
    gen = torch.Generator().manual_seed(SEED)
    x0 = MIXTURE.sample((2, 6, 6), gen)
    mask = torch.zeros(6, 6)
    mask[1:4, 2:6] = 1
    for t0 in (0.6, 1.0):
        sigmas = edit_sigmas(schedule, steps, t0)
        trajectory = sde_core.record_forward(x0, sigmas, schedule, generator=gen)
        out = sde_core.sample_cycle_sde(
            MIXTURE.denoiser(schedule), trajectory.latent_at_t0, sigmas, trajectory=trajectory,
            schedule=schedule, mask=mask if masked else None, eta=eta,
        )
        assert (out - x0).abs().max().item() < 1e-10, (t0, (out - x0).abs().max().item())


@pytest.mark.parametrize("kind", SCHEDULES)
def test_eta_one_is_the_papers_cycle_step_bit_for_bit(kind):
    schedule = SCHEDULES[kind]
    x, d, x_rec, d_rec, x_next = _five()
    for sigma, sigma_next in _levels(kind) + [(0.2, 0.0)]:
        paper = sde_core.cycle_step(schedule, x, d, x_rec, d_rec, x_next, sigma, sigma_next)
        assert torch.equal(sde_core.cycle_step_eta(schedule, x, d, x_rec, d_rec, x_next, sigma, sigma_next, 1.0), paper)
        # and the general formula is continuous into it (no special case hides a different step)
        near = sde_core.cycle_step_eta(schedule, x, d, x_rec, d_rec, x_next, sigma, sigma_next, 1 - 1e-12)
        torch.testing.assert_close(near, paper, rtol=0, atol=1e-5)


def test_sample_cycle_sde_at_eta_one_is_bit_equal_to_its_default():
    schedule = sde_core.VP
    _, sigmas, trajectory = recorded_mixture(schedule, 20, 0.6, (2, 5, 5), SEED)
    edited = trajectory.latent_at_t0 + 0.7
    model = MIXTURE.denoiser(schedule)
    default = sde_core.sample_cycle_sde(model, edited, sigmas, trajectory=trajectory)
    explicit = sde_core.sample_cycle_sde(model, edited, sigmas, trajectory=trajectory, eta=1.0)
    assert torch.equal(default, explicit)
    assert not torch.equal(default, sde_core.sample_cycle_sde(model, edited, sigmas, trajectory=trajectory, eta=0.5))


@pytest.mark.parametrize("kind, eta", list(itertools.product(SCHEDULES, (0.25, 0.5, 0.75, 1.0))))
def test_the_step_is_ddims_eta_step_driven_by_the_noise_that_maps_the_recording_onto_itself(kind, eta):
    schedule = SCHEDULES[kind]
    x, d, x_rec, d_rec, x_next = _five()
    for sigma, sigma_next in _levels(kind):
        _, _, std = sde_core.posterior(schedule, sigma, sigma_next)
        no_noise = torch.zeros_like(x)
        m_rec = sde_core.eta_step(schedule, x_rec, d_rec, sigma, sigma_next, eta, no_noise)
        w_bar = (x_next - m_rec) / (eta * std)  # the recorded noise, same eta
        torch.testing.assert_close(sde_core.eta_step(schedule, x_rec, d_rec, sigma, sigma_next, eta, w_bar), x_next)
        torch.testing.assert_close(
            sde_core.cycle_step_eta(schedule, x, d, x_rec, d_rec, x_next, sigma, sigma_next, eta),
            sde_core.eta_step(schedule, x, d, sigma, sigma_next, eta, w_bar),
        )


@pytest.mark.parametrize("kind", SCHEDULES)
def test_eta_zero_is_ddim_plus_the_recorded_residual_and_small_eta_tends_to_it(kind):
    schedule = SCHEDULES[kind]
    x, d, x_rec, d_rec, x_next = _five()
    for sigma, sigma_next in _levels(kind):
        ddim_x = sde_core.eta_step(schedule, x, d, sigma, sigma_next, 0.0)
        ddim_rec = sde_core.eta_step(schedule, x_rec, d_rec, sigma, sigma_next, 0.0)
        expected = ddim_x + (x_next - ddim_rec)
        zero = sde_core.cycle_step_eta(schedule, x, d, x_rec, d_rec, x_next, sigma, sigma_next, 0.0)
        torch.testing.assert_close(zero, expected, rtol=0, atol=1e-12)
        small = sde_core.cycle_step_eta(schedule, x, d, x_rec, d_rec, x_next, sigma, sigma_next, 1e-4)
        assert 0 < (small - expected).abs().max().item() < 1e-6


def test_an_edit_is_kept_by_bs_over_bt_squared_at_eta_one_and_bs_over_bt_at_eta_zero():
    schedule = sde_core.VP  # a = 1: with D = D_rec the step keeps (c / b_t) of the edit
    x, _, x_rec, d_rec, x_next = _five()
    sigma, sigma_next = 2.3, 1.7
    kept = []
    for eta in ETAS:
        out = sde_core.cycle_step_eta(schedule, x, d_rec, x_rec, d_rec, x_next, sigma, sigma_next, eta)
        kept.append(((out - x_next) / (x - x_rec)).mean().item())
    assert kept[0] == pytest.approx(sigma_next / sigma, rel=1e-12)
    assert kept[-1] == pytest.approx((sigma_next / sigma) ** 2, rel=1e-12)
    assert all(a > b for a, b in zip(kept, kept[1:]))  # more eta, less of the edit kept


@pytest.mark.parametrize("eta", (-0.1, 1.5, float("nan")))
def test_sample_cycle_sde_rejects_an_eta_outside_zero_one_naming_it(eta):
    sigmas = edit_sigmas(sde_core.VP, 4, 0.6)
    x0 = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    trajectory = sde_core.record_forward(x0, sigmas, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="eta must be in \\[0, 1\\]"):
        sde_core.sample_cycle_sde(MIXTURE.denoiser(sde_core.VP), x0, sigmas, trajectory=trajectory, eta=eta)
