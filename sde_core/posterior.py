"""The Gaussian posterior of one diffusion step, and the steps built from it.

With ``x = a(sigma) x0 + b(sigma) eps`` (see ``schedule``), going from a cleaner level
``s = sigma_next`` to a noisier ``t = sigma`` is the forward kernel

    x_t = alpha x_s + sqrt(v) w,    alpha = a_t / a_s,    v = b_t^2 - alpha^2 b_s^2,

and its exact posterior ``q(x_s | x_t, x0)`` is Gaussian with

    mean = (alpha b_s^2 / b_t^2) x_t + (a_s v / b_t^2) x0,    std = sqrt(v) b_s / b_t.

Putting the model's ``denoised`` in place of ``x0`` gives the DDPM (SDE) step; DDIM's eta
interpolates to the deterministic (ODE) step.
"""

from __future__ import annotations

import torch

from .schedule import Schedule

__all__ = ["posterior", "forward_step", "noise_to", "eta_step"]


def _sqrt_pos(v):
    """``sqrt(max(v, 0))`` for floats and tensors (clamps rounding below zero)."""
    if isinstance(v, torch.Tensor):
        return v.clamp(min=0).sqrt()
    return max(v, 0.0) ** 0.5


def posterior(schedule: Schedule, sigma, sigma_next):
    """``(coef_x, coef_x0, std)`` of ``q(x_s | x_t, x0)``: ``mean = coef_x x_t + coef_x0 x0``.

    ``t = sigma`` (noisier, > 0), ``s = sigma_next`` (cleaner); formulas in the module doc.
    """
    a_t, b_t = schedule.a(sigma), schedule.b(sigma)
    a_s, b_s = schedule.a(sigma_next), schedule.b(sigma_next)
    alpha = a_t / a_s
    v = b_t**2 - alpha**2 * b_s**2
    v = v.clamp(min=0) if isinstance(v, torch.Tensor) else max(v, 0.0)
    coef_x = alpha * b_s**2 / b_t**2
    coef_x0 = a_s * v / b_t**2
    std = v**0.5 * b_s / b_t
    return coef_x, coef_x0, std


def forward_step(schedule: Schedule, x, sigma, sigma_next, noise):
    """Noise ``x`` from ``sigma`` up to ``sigma_next > sigma``:
    ``x_next = (a_next / a) x + sqrt(b_next^2 - (a_next / a)^2 b^2) noise``."""
    ratio = schedule.a(sigma_next) / schedule.a(sigma)
    scale = _sqrt_pos(schedule.b(sigma_next) ** 2 - ratio**2 * schedule.b(sigma) ** 2)
    return ratio * x + scale * noise


def noise_to(schedule: Schedule, x0, sigma, noise):
    """One-shot forward noising (SDEdit's start): ``x = a(sigma) x0 + b(sigma) noise``."""
    return schedule.a(sigma) * x0 + schedule.b(sigma) * noise


def eta_step(schedule: Schedule, x, denoised, sigma, sigma_next, eta, noise=None):
    """DDIM's eta step from ``t = sigma`` to ``s = sigma_next`` (eta = 1 DDPM/SDE, 0 ODE):

    ``x_s = a_s x0 + sqrt(b_s^2 - (eta std)^2) eps_hat + eta std noise``,
    ``eps_hat = (x - a_t x0) / b_t``, ``std`` the posterior's. At eta = 1 the first two terms
    are the posterior mean. ``noise`` is unused (may be None) when ``eta * std == 0``.
    """
    if sigma_next == 0:
        # Last step, to the clean level: b_s = 0, a_s = 1, std = 0, so x_s = x0 exactly.
        return denoised
    _, _, std = posterior(schedule, sigma, sigma_next)
    a_s, b_s = schedule.a(sigma_next), schedule.b(sigma_next)
    eps_hat = (x - schedule.a(sigma) * denoised) / schedule.b(sigma)
    noise_std = eta * std
    out = a_s * denoised + _sqrt_pos(b_s**2 - noise_std**2) * eps_hat
    if noise_std:
        out = out + noise_std * noise
    return out
