"""The exact-score model (studies/exact_mixture.py): its FFT closed forms against the dense
Gaussian-mixture formulas, the denoiser against the score of its log-density (Tweedie), its
samples against their law, and its drag against sde_core.sde_drag."""

import math

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from studies.exact_mixture import DTYPE, SD15_SIGMA_MIN, TexturedObjectScenes, drag, drag_sigmas

SEED = 77
SCHEDULES = {"vp": sde_core.VP, "flow": sde_core.FLOW}


def _dense(scenes):
    """Every component's mean ``[K, D]`` and the texture covariance ``[D, D]``, built cell by cell."""
    d = scenes.dim
    eye = torch.eye(d, dtype=DTYPE).reshape(d, 1, scenes.size, scenes.size)
    cov = torch.fft.ifft2(scenes.spectrum * torch.fft.fft2(eye)).real.reshape(d, d)
    cells = torch.tensor([[x, y] for y in range(scenes.size) for x in range(scenes.size)])
    return scenes.object_at(cells).reshape(d, d), cov


@pytest.mark.parametrize("kind, sigma", [("vp", 0.0), ("vp", 0.7), ("vp", 6.0), ("flow", 0.4), ("flow", 0.95)])
def test_fft_closed_forms_equal_the_dense_mixture_formulas(kind, sigma):
    schedule = SCHEDULES[kind]
    scenes = TexturedObjectScenes(size=6, side=2, amplitude=1.5, correlation=1.0)
    means, cov = _dense(scenes)
    assert torch.allclose(cov, cov.T) and torch.allclose(cov.diagonal(), torch.ones(scenes.dim, dtype=DTYPE))
    gen = torch.Generator().manual_seed(SEED)
    a, b = float(schedule.a(sigma)), float(schedule.b(sigma))
    x = a * scenes.sample(4, gen) + b * torch.randn(4, 1, 6, 6, generator=gen, dtype=DTYPE)
    marginal = a * a * cov + b * b * torch.eye(scenes.dim, dtype=DTYPE)
    per_component = torch.distributions.MultivariateNormal(a * means, covariance_matrix=marginal)
    log_joint = per_component.log_prob(x.reshape(4, 1, -1))  # [B, K]
    weights = torch.softmax(log_joint, 1)
    wiener = a * cov @ torch.linalg.inv(marginal)
    posterior_means = means[None] + (x.reshape(4, 1, -1) - a * means[None]) @ wiener.T
    torch.testing.assert_close(scenes.log_prob(x, sigma, schedule), torch.logsumexp(log_joint, 1) - math.log(scenes.dim))
    torch.testing.assert_close(scenes.component_posterior(x, sigma, schedule).reshape(4, -1), weights)
    denoised = scenes.denoise(x, torch.full([4], sigma, dtype=DTYPE), schedule)
    torch.testing.assert_close(denoised.reshape(4, -1), (weights[:, :, None] * posterior_means).sum(1))


@pytest.mark.parametrize("kind, sigma", [("vp", 0.3), ("vp", 2.2), ("flow", 0.5)])
def test_the_denoiser_is_tweedies_formula_on_the_exact_log_density(kind, sigma):
    # E[x0 | x] = (x + b^2 grad log p_sigma(x)) / a
    schedule = SCHEDULES[kind]
    scenes = TexturedObjectScenes(size=8, side=2)
    gen = torch.Generator().manual_seed(SEED)
    a, b = float(schedule.a(sigma)), float(schedule.b(sigma))
    x = (a * scenes.sample(3, gen) + b * torch.randn(3, 1, 8, 8, generator=gen, dtype=DTYPE)).requires_grad_()
    score = torch.autograd.grad(scenes.log_prob(x, sigma, schedule).sum(), x)[0]
    denoised = scenes.denoise(x.detach(), torch.full([3], sigma, dtype=DTYPE), schedule)
    torch.testing.assert_close(denoised, (x.detach() + b * b * score) / a)


def test_samples_whiten_to_standard_normal_and_the_posterior_finds_their_object():
    scenes = TexturedObjectScenes()
    gen = torch.Generator().manual_seed(SEED)
    points = torch.randint(0, scenes.size, (400, 2), generator=gen)
    x = scenes.sample(400, gen, points=points)
    z = scenes.whiten(x, points).flatten()
    n = z.numel()
    assert abs(z.mean().item()) < 5 / n**0.5 and abs(z.var().item() - 1) < 5 * (2 / n) ** 0.5
    posterior = scenes.component_posterior(x, 0.0).flatten(1)
    truth = points[:, 1] * scenes.size + points[:, 0]
    # the texture sometimes mimics a one-cell shift: the object is found, not always certainly
    assert (posterior.argmax(1) == truth).double().mean() >= 0.99
    assert posterior.gather(1, truth[:, None]).mean() > 0.99
    # the average log-likelihood of data is minus its entropy: within sampling error of the
    # Gaussian part's entropy (the object's position is known to within a hair at sigma 0)
    entropy = 0.5 * (scenes.dim * math.log(2 * math.pi * math.e) + torch.log(scenes.spectrum).sum().item()) + math.log(scenes.dim)
    log_prob = scenes.log_prob(x)
    assert abs(-log_prob.mean().item() - entropy) < 5 * log_prob.std().item() / 400**0.5


def test_a_drag_at_eta_one_is_sde_core_sde_drag_bit_for_bit_and_ode_is_its_ode_drag():
    scenes = TexturedObjectScenes()
    x = scenes.sample(3, torch.Generator().manual_seed(SEED), points=(5, 8))
    sigmas = drag_sigmas(20, 0.6)
    model = scenes.denoiser()
    for method in ("sde", "ode"):
        ours = drag(model, x, (5, 8), (11, 8), sigmas, method=method, r=3, generator=torch.Generator().manual_seed(1))
        noise = sde_core.NoiseSource(torch.Generator().manual_seed(1))  # one stream: recording, then refills
        way = sde_core.sde_method() if method == "sde" else sde_core.ode_method(sigma_min=SD15_SIGMA_MIN)
        theirs, frames = sde_core.sde_drag(
            model, x, sigmas, disable=True, sources=[(5, 8)], targets=[(11, 8)], method=way,
            paste=sde_core.CopyPaste(r=3, alpha=1.1, beta=0.3, step_size=2), noise=noise,
        )
        assert len(frames) == 3 and torch.equal(ours, theirs), method


def test_the_drag_reconstructs_its_input_when_the_source_is_the_target_for_every_eta():
    scenes = TexturedObjectScenes()
    x = scenes.sample(2, torch.Generator().manual_seed(SEED), points=(5, 8))
    for eta in (0.0, 0.5, 1.0):
        out = drag(scenes.denoiser(), x, (5, 8), (5, 8), drag_sigmas(30, 0.6), eta=eta, alpha=1.0, beta=1.0,
                   generator=torch.Generator().manual_seed(2))
        assert (out - x).abs().max().item() < 1e-10, eta
