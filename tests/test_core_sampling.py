"""``sample_eta`` (DDPM <-> DDIM) and ``ddim_invert`` with an exact denoiser."""

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from core_problems import GAUSSIAN, MIXTURE, edit_sigmas, sd15_sigmas

SEED = 1234
DTYPE = torch.float64


def _noise_list(n, shape, seed=SEED):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen, dtype=DTYPE) for _ in range(n)]


class ListNoise:
    """A noise_sampler that hands out pre-drawn noises in order and counts the calls."""

    def __init__(self, noises):
        self.noises, self.calls = list(noises), 0

    def __call__(self, sigma, sigma_next):
        self.calls += 1
        return self.noises.pop(0)


def _comfy_ddpm(model, x, sigmas, noises):
    """ComfyUI's ``ddpm`` sampler for EPS, written in the alphas_cumprod form."""
    noises = list(noises)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        eps = (x - model(x, sigma * x.new_ones(x.shape[0]))) / sigma
        ac, ac_prev = 1 / (sigma**2 + 1), 1 / (sigma_next**2 + 1)
        alpha = ac / ac_prev
        mu = (1 / alpha).sqrt() * (x * ac.sqrt() - (1 - alpha) * eps / (1 - ac).sqrt())
        if sigma_next > 0:
            mu = mu + ((1 - alpha) * (1 - ac_prev) / (1 - ac)).sqrt() * noises.pop(0)
            x = mu / ac_prev.sqrt()
        else:
            x = mu
    return x


def _ddim(model, x, sigmas):
    """DDIM in the alphas_cumprod form, over EPS sigmas."""
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        x0 = model(x, sigma * x.new_ones(x.shape[0]))
        eps = (x - x0) / sigma
        ac_prev = 1 / (sigma_next**2 + 1)
        x = (ac_prev.sqrt() * x0 + (1 - ac_prev).sqrt() * eps) / ac_prev.sqrt()
    return x


def test_sample_eta_at_eta_1_matches_comfyuis_ddpm_sampler_noise_for_noise():
    sigmas = edit_sigmas(sde_core.VP, 20, 0.6)
    model = MIXTURE.denoiser(sde_core.VP)
    x = _noise_list(1, (2, 3, 4, 4), seed=7)[0] * sigmas[0]
    noises = _noise_list(19, x.shape)
    sampler = ListNoise(noises)
    got = sde_core.sample_eta(model, x, sigmas, eta=1.0, noise_sampler=sampler)
    assert sampler.calls == 19  # one per step, none on the last step to 0
    torch.testing.assert_close(got, _comfy_ddpm(model, x, sigmas, noises), rtol=1e-10, atol=1e-10)


def test_sample_eta_at_eta_0_is_ddim_and_draws_no_noise():
    sigmas = edit_sigmas(sde_core.VP, 20, 0.6)
    model = MIXTURE.denoiser(sde_core.VP)
    x = _noise_list(1, (2, 3, 4, 4), seed=7)[0] * sigmas[0]
    sampler = ListNoise([])
    got = sde_core.sample_eta(model, x, sigmas, eta=0.0, noise_sampler=sampler)
    assert sampler.calls == 0
    torch.testing.assert_close(got, _ddim(model, x, sigmas), rtol=1e-10, atol=1e-10)


def test_sample_eta_callback_gets_the_k_diffusion_payload_on_every_step():
    sigmas = sd15_sigmas(5)
    seen = []
    x = torch.zeros(1, 3, 2, 2, dtype=DTYPE)
    sde_core.sample_eta(GAUSSIAN.denoiser(sde_core.VP), x, sigmas, eta=0.0, callback=seen.append)
    assert [p["i"] for p in seen] == list(range(5))
    assert set(seen[0]) == {"x", "i", "sigma", "sigma_hat", "denoised"}
    assert all(p["sigma"] == p["sigma_hat"] == sigmas[p["i"]] for p in seen)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_sample_eta_keeps_the_known_region_noised_to_each_level_and_exact_at_the_end(eta):
    sigmas = edit_sigmas(sde_core.VP, 10, 1.0)
    gen = torch.Generator().manual_seed(SEED)
    latent = GAUSSIAN.sample((1, 6, 6), gen)
    mask = torch.zeros(6, 6, dtype=DTYPE)
    mask[1:4, 2:5] = 1
    noise = torch.randn(latent.shape, generator=gen, dtype=DTYPE)
    known = sde_core.KnownRegion(latent, mask, noise)
    start = sde_core.noise_to(sde_core.VP, latent, sigmas[0].item(), noise)
    levels = []
    out = sde_core.sample_eta(
        GAUSSIAN.denoiser(sde_core.VP), start, sigmas, eta=eta, known=known,
        noise_sampler=lambda s, sn: torch.randn(latent.shape, generator=gen, dtype=DTYPE),
        callback=lambda p: levels.append(p["x"]),
    )
    for i, x in enumerate(levels):
        expected = sde_core.noise_to(sde_core.VP, latent, sigmas[i].item(), noise)
        assert torch.equal(x[..., mask == 0], expected[..., mask == 0])
    assert torch.equal(out[..., mask == 0], latent[..., mask == 0])
    assert not torch.equal(out[..., mask == 1], latent[..., mask == 1])


@pytest.mark.parametrize("schedule", [sde_core.VP, sde_core.FLOW], ids=["vp", "flow"])
def test_ddim_inversion_then_ddim_reconstructs_up_to_a_first_order_discretisation_error(schedule):
    model = GAUSSIAN.denoiser(schedule)
    x = GAUSSIAN.sample((2, 4, 4), torch.Generator().manual_seed(SEED))
    sigma_min = 0.0292 if schedule.kind == "vp" else 0.001
    errors = []
    for steps in (25, 100):
        sigmas = edit_sigmas(schedule, steps, 0.6)
        trajectory = sde_core.ddim_invert(model, x, sigmas, schedule=schedule, sigma_min=sigma_min)
        assert trajectory.states.shape == (steps + 1, *x.shape)
        assert torch.equal(trajectory.states[-1], x)
        out = sde_core.sample_ode_masked(model, trajectory.latent_at_t0, sigmas, schedule=schedule)
        errors.append((out - x).abs().max().item())
    # unlike Cycle-SDE, ODE inversion is exact only in the limit: error ~ 1 / steps
    assert errors[1] < 0.1 and errors[1] < errors[0] / 2.5, errors


def test_ddim_inversion_reads_the_model_at_sigma_min_first_then_at_each_lower_level():
    sigmas = sd15_sigmas(4)
    read = []

    def model(x, sigma):
        read.append(sigma[0].item())
        return torch.zeros_like(x)

    sde_core.ddim_invert(model, torch.ones(2, 1, 1, 1, dtype=DTYPE), sigmas, sigma_min=0.03)
    assert read == pytest.approx([0.03, *sigmas.flip(0)[1:-1].tolist()])
