"""The one posterior against the DDPM/DDIM formulas in their ``alphas_cumprod`` form."""

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from core_problems import sd15_alphas_cumprod

SEED = 1234
DTYPE = torch.float64


def _level_pairs():
    """(t, s) DDPM timestep pairs: strided, consecutive, and down to the clean level (s = -1)."""
    strided = [(t, t - 20) for t in range(999, 20, 37)]
    consecutive = [(t, t - 1) for t in (999, 500, 100, 1)]
    final = [(t, -1) for t in (999, 20, 0)]
    return strided + consecutive + final


def _ac(ac, t):
    return torch.tensor(1.0, dtype=DTYPE) if t < 0 else ac[t]


def _sigma(ac_t):
    return ((1 - ac_t) / ac_t).sqrt()


def test_sde_step_mean_and_std_equal_the_ddpm_posterior_of_sd15s_alphas_cumprod():
    ac = sd15_alphas_cumprod()
    for t, s in _level_pairs():
        ac_t, ac_s = _ac(ac, t), _ac(ac, s)
        # DDPM posterior q(x_s | x_t, x0) in the VP space x_vp = sqrt(ac) x0 + sqrt(1 - ac) eps
        beta_ts = 1 - ac_t / ac_s
        ddpm_x = (ac_t / ac_s).sqrt() * (1 - ac_s) / (1 - ac_t)
        ddpm_x0 = ac_s.sqrt() * beta_ts / (1 - ac_t)
        ddpm_std = ((1 - ac_s) / (1 - ac_t) * beta_ts).sqrt()
        # ComfyUI's EPS space: x = x0 + sigma eps = x_vp / sqrt(ac)
        coef_x, coef_x0, std = sde_core.posterior(sde_core.VP, _sigma(ac_t), _sigma(ac_s))
        assert torch.allclose(coef_x * ac_s.sqrt() / ac_t.sqrt(), ddpm_x, rtol=1e-12, atol=1e-15)
        assert torch.allclose(coef_x0 * ac_s.sqrt(), ddpm_x0, rtol=1e-12, atol=1e-15)
        assert torch.allclose(std * ac_s.sqrt(), ddpm_std, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("schedule", [sde_core.VP, sde_core.FLOW], ids=["vp", "flow"])
def test_eta_step_is_ddpm_at_eta_1_and_ddim_at_eta_0_in_the_alphas_cumprod_form(schedule):
    gen = torch.Generator().manual_seed(SEED)
    x, x0, noise = (torch.randn(2, 3, 4, 4, generator=gen, dtype=DTYPE) for _ in range(3))
    sigmas = [0.9, 0.6, 0.3, 0.05] if schedule.kind == "flow" else [14.6, 2.3, 0.5, 0.03]
    for sigma, sigma_next in zip(sigmas, sigmas[1:]):
        k_t, k_s = schedule.vp_scale(sigma), schedule.vp_scale(sigma_next)
        ac_t, ac_s = (schedule.a(sigma) / k_t) ** 2, (schedule.a(sigma_next) / k_s) ** 2
        x_vp = x / k_t
        eps = (x_vp - ac_t**0.5 * x0) / (1 - ac_t) ** 0.5
        ddim = ac_s**0.5 * x0 + (1 - ac_s) ** 0.5 * eps
        beta_ts = 1 - ac_t / ac_s
        ddpm = (
            ac_s**0.5 * beta_ts / (1 - ac_t) * x0
            + (ac_t / ac_s) ** 0.5 * (1 - ac_s) / (1 - ac_t) * x_vp
            + ((1 - ac_s) / (1 - ac_t) * beta_ts) ** 0.5 * noise
        )
        got_ddim = sde_core.eta_step(schedule, x, x0, sigma, sigma_next, 0.0) / k_s
        got_ddpm = sde_core.eta_step(schedule, x, x0, sigma, sigma_next, 1.0, noise) / k_s
        torch.testing.assert_close(got_ddim, ddim, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(got_ddpm, ddpm, rtol=1e-12, atol=1e-12)


def test_eta_step_to_sigma_zero_returns_the_denoised_latent_and_needs_no_noise():
    x, x0 = torch.ones(1, 1, 2, 2, dtype=DTYPE), torch.full((1, 1, 2, 2), 0.25, dtype=DTYPE)
    for eta in (0.0, 0.5, 1.0):
        assert sde_core.eta_step(sde_core.VP, x, x0, 0.7, 0.0, eta, None) is x0


def test_the_posterior_std_is_zero_on_the_last_step_and_its_mean_is_x0():
    for schedule, sigma in ((sde_core.VP, 3.0), (sde_core.FLOW, 0.4)):
        coef_x, coef_x0, std = sde_core.posterior(schedule, sigma, 0.0)
        assert (coef_x, coef_x0, std) == (0.0, 1.0, 0.0)


def test_forward_step_then_posterior_is_consistent_with_the_joint_gaussian():
    # Var(x_t | x_s) from forward_step, and the posterior variance, satisfy
    # Var(x_s | x_t, x0) = v b_s^2 / b_t^2 with v the forward step's variance.
    for schedule, (s, t) in ((sde_core.VP, (0.5, 2.0)), (sde_core.FLOW, (0.3, 0.7))):
        v = sde_core.forward_step(schedule, 0.0, s, t, 1.0) ** 2
        _, _, std = sde_core.posterior(schedule, t, s)
        assert abs(std**2 - v * s**2 / t**2) < 1e-14


def test_noise_to_is_a_x0_plus_b_noise_for_both_families():
    x0, noise = torch.tensor(2.0, dtype=DTYPE), torch.tensor(-1.0, dtype=DTYPE)
    assert sde_core.noise_to(sde_core.VP, x0, 3.0, noise).item() == 2.0 - 3.0
    assert sde_core.noise_to(sde_core.FLOW, x0, 0.25, noise).item() == 0.75 * 2.0 - 0.25
