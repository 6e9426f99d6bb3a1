"""k-diffusion-shaped samplers over one formula (``posterior.eta_step``).

``sample_eta`` is DDPM at eta = 1 and DDIM at eta = 0 (Song et al. 2021, Eq. 12), with an
optional known region for inpainting; ``ddim_invert`` runs the DDIM step backwards. Both take
``model(x, sigma * ones(B), **extra_args) -> denoised`` and can be wrapped by ComfyUI's
``KSAMPLER`` (``functools.partial`` for the keyword arguments).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._loop import keep_outside, payload, sigma_vector, step_range
from .cycle_sde import Trajectory
from .posterior import eta_step, noise_to
from .schedule import VP, Schedule
from .validate import check_eta, check_mask, check_sigmas

__all__ = ["KnownRegion", "sample_eta", "ddim_invert"]


class KnownRegion(NamedTuple):
    """Inpainting's known region: outside ``mask`` (1 = generate, 0 = keep) the latent is
    ``noise_to(schedule, latent, sigma_next, noise)`` after every step."""

    latent: torch.Tensor
    mask: torch.Tensor
    noise: torch.Tensor


def _default_noise_sampler(x):
    """Unseeded ``torch.randn_like(x)``: used only when no ``noise_sampler`` is passed."""
    return lambda sigma, sigma_next: torch.randn_like(x)


def sample_eta(
    model,
    x,
    sigmas,
    extra_args=None,
    callback=None,
    disable=None,
    eta=1.0,
    noise_sampler=None,
    schedule: Schedule = VP,
    known: KnownRegion = None,
):
    """DDPM (eta = 1, the SDE sampler) to DDIM (eta = 0, the ODE sampler), one loop.

    Each step ``x <- eta_step(x, model(x, sigma), sigma, sigma_next, eta, noise)`` draws one
    ``noise_sampler(sigma, sigma_next)`` when ``eta > 0`` and ``sigma_next > 0``, and none on
    the last step to 0 (as ComfyUI's ``ddpm`` sampler). Without a ``noise_sampler`` the noise
    is unseeded ``torch.randn_like``. With ``known``, the region outside ``known.mask`` is
    replaced after every step by the known latent noised to ``sigma_next``.
    """
    check_sigmas(sigmas)
    check_eta(eta, "1 = DDPM/SDE, 0 = DDIM/ODE")
    mask = None
    if known is not None:
        mask = check_mask(known.mask, x.shape) if x.ndim == 4 else known.mask
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = _default_noise_sampler(x) if noise_sampler is None else noise_sampler
    levels = sigmas.tolist()
    for i in step_range(len(levels) - 1, disable):
        sigma, sigma_next = levels[i], levels[i + 1]
        denoised = model(x, sigma_vector(sigmas[i], x), **extra_args)
        if callback is not None:
            callback(payload(x, i, sigmas[i], denoised))
        noise = noise_sampler(sigmas[i], sigmas[i + 1]) if eta > 0 and sigma_next > 0 else None
        x = eta_step(schedule, x, denoised, sigma, sigma_next, eta, noise)
        if known is not None:
            keep = noise_to(schedule, known.latent.to(x), sigma_next, known.noise.to(x))
            x = keep_outside(x, keep, mask)
    return x


def ddim_invert(
    model,
    x,
    sigmas,
    extra_args=None,
    callback=None,
    disable=None,
    schedule: Schedule = VP,
    sigma_min=None,
) -> Trajectory:
    """DDIM (ODE) inversion of the clean ``x`` up the reversed ``sigmas`` (0 -> ``sigmas[0]``).

    Each step from ``s`` to ``t > s`` is the DDIM step run backwards, reading the model at
    the *current* level: ``D = D(x_s, s)``, ``eps_hat = (x_s - a_s D) / b_s``,
    ``x_t = a_t D + b_t eps_hat``. The first step starts at the clean latent (``b = 0``), so
    it reads the model at ``sigma_min`` (the model's smallest sigma) as if ``x`` sat there.
    Returns the Trajectory of every state (``states[-1]`` is ``x``).
    """
    check_sigmas(sigmas)
    if sigmas[-1] == 0 and sigma_min is None:
        raise ValueError(
            "sigma_min is required when sigmas end at 0: the first inversion step reads the "
            "model at the schedule's smallest sigma (model_sampling.sigma_min in ComfyUI)."
        )
    if sigma_min is not None and not float(sigma_min) > 0:
        raise ValueError(f"sigma_min must be > 0, got {sigma_min}.")
    extra_args = {} if extra_args is None else extra_args
    levels = sigmas.tolist()
    states = [x]
    for j, k in enumerate(step_range(len(levels) - 1, disable)):
        i = len(levels) - 2 - k  # going from levels[i + 1] up to levels[i]
        read = levels[i + 1] if levels[i + 1] > 0 else float(sigma_min)
        denoised = model(x, sigma_vector(read, x), **extra_args)
        if callback is not None:
            callback(payload(x, j, torch.as_tensor(read), denoised))
        eps_hat = (x - schedule.a(read) * denoised) / schedule.b(read)
        x = schedule.a(levels[i]) * denoised + schedule.b(levels[i]) * eps_hat
        states.append(x)
    return Trajectory(sigmas=sigmas, states=torch.stack(states[::-1]))
