"""Cycle-SDE: stochastic inversion with exact reconstruction (Nie et al. 2024, Sec. 3.2).

Forward: from the clean latent, take the forward kernel step by step up to ``t0`` and record
every state (``record_forward``). Backward: at each step, the noise that the DDPM sampler
needs to map the recorded ``x_t`` onto the recorded ``x_s`` drives the SDE step of the edited
latent (``cycle_step``). Without an edit the input comes back up to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._loop import keep_outside, payload, sigma_vector, step_range
from .posterior import eta_step, forward_step, posterior
from .schedule import VP, Schedule
from .eta_schedule import step_etas
from .validate import check_mask, check_sigmas

__all__ = [
    "Trajectory",
    "record_forward",
    "cycle_step",
    "cycle_step_eta",
    "recorded_noise",
    "sample_cycle_sde",
    "sample_ode_masked",
]


@dataclass
class Trajectory:
    """Recorded latents: ``states[i]`` sits at ``sigmas[i]``.

    ``states[0]`` is the latent at ``t0`` (the noisiest), ``states[-1]`` the clean input;
    ``states`` has shape ``[len(sigmas), *x.shape]``.
    """

    sigmas: torch.Tensor
    states: torch.Tensor

    def __post_init__(self):
        if self.states.shape[0] != len(self.sigmas):
            raise ValueError(
                f"trajectory states must hold one latent per sigma: got {self.states.shape[0]} "
                f"states for {len(self.sigmas)} sigmas."
            )

    @property
    def latent_at_t0(self) -> torch.Tensor:
        """The recorded latent at ``sigmas[0]``."""
        return self.states[0]

    def to(self, device) -> "Trajectory":
        """The same recording with its states on ``device`` (the few sigmas stay where they are)."""
        return Trajectory(sigmas=self.sigmas, states=self.states.to(device))

    def nbytes(self) -> int:
        """Memory held by the recording, in bytes."""
        return sum(t.numel() * t.element_size() for t in (self.sigmas, self.states))


def _randn_like(x, generator):
    """Standard normal noise shaped like ``x``, from ``generator`` (on its device) if given."""
    if generator is None:
        return torch.randn_like(x)
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    return noise.to(x.device)


def record_forward(
    x0, sigmas, schedule: Schedule = VP, noise_sampler=None, generator=None
) -> Trajectory:
    """Stochastic inversion: ``forward_step`` from ``sigmas[-1]`` (0: the clean ``x0``) up to
    ``sigmas[0]``, recording every state.

    Step noise comes from ``noise_sampler(sigma, sigma_next)`` (called with the lower level
    first), else ``torch.randn(..., generator=generator)`` (generated on the generator's
    device, then moved to ``x0``'s), else unseeded ``torch.randn_like``. Every batch item gets
    its own noise.
    """
    check_sigmas(sigmas)
    if noise_sampler is not None and generator is not None:
        raise ValueError("record_forward takes noise_sampler or generator, not both.")
    levels = sigmas.tolist()
    states = [x0]
    x = x0
    for i in reversed(range(len(levels) - 1)):
        sigma, sigma_next = levels[i + 1], levels[i]
        noise = noise_sampler(sigma, sigma_next) if noise_sampler else _randn_like(x, generator)
        x = forward_step(schedule, x, sigma, sigma_next, noise)
        states.append(x)
    return Trajectory(sigmas=sigmas, states=torch.stack(states[::-1]))


def _mean(schedule, x, denoised, sigma, sigma_next):
    """Posterior mean ``coef_x x_t + coef_x0 x0``."""
    coef_x, coef_x0, _ = posterior(schedule, sigma, sigma_next)
    return coef_x * x + coef_x0 * denoised


def cycle_step(schedule: Schedule, x, denoised, x_rec, denoised_rec, x_rec_next, sigma, sigma_next):
    """One Cycle-SDE denoising step from ``t = sigma`` to ``s = sigma_next``.

    Notation (code name -> paper symbol):
        x            -> x_t,        the edited latent at t
        denoised     -> D(x_t, t),  the model's x0 prediction for it
        x_rec        -> x_t^rec,    the recorded latent at t
        denoised_rec -> D(x_t^rec, t)
        x_rec_next   -> x_s^rec,    the recorded latent at s
        mean(., .)   -> mu(x_t, x0), the DDPM posterior mean (``posterior``)

    The DDPM step is ``x_s = mu(x_t, D) + std * w``; Cycle-SDE takes for ``w`` the noise that
    maps the recording onto itself, ``w_bar = (x_s^rec - mu(x_t^rec, D_rec)) / std``. Written
    without the division,

        x_s = mu(x_t, D) + (x_s^rec - mu(x_t^rec, D_rec)),

    which equals ``mu + std * w_bar`` whenever ``std > 0`` and keeps reconstruction exact on
    the last step (to sigma 0), where ``std = 0`` and ``w_bar`` is undefined.
    """
    # 1. posterior-mean coefficients: mu(x_t, x0) = coef_x x_t + coef_x0 x0
    coef_x, coef_x0, _ = posterior(schedule, sigma, sigma_next)
    # 2. mu(x_t, D) - mu(x_t^rec, D_rec), formed from the differences first: for an unedited
    #    latent both are tiny, so float32 rounding of the two (large) means never enters
    mean_shift = coef_x * (x - x_rec) + coef_x0 * (denoised - denoised_rec)
    # 3. the step driven by the recorded noise: x_s^rec + mean_shift
    return x_rec_next + mean_shift


def cycle_step_eta(
    schedule: Schedule, x, denoised, x_rec, denoised_rec, x_rec_next, sigma, sigma_next, eta
):
    """Cycle-SDE step with DDIM's ``eta`` in [0, 1] (``eta = 1``: ``cycle_step`` itself).

    DDIM's eta step (``posterior.eta_step``) is ``x_s = m_eta(x_t, D) + eta std w`` with the
    deterministic part

        m_eta(x, D) = a_s D + c (x - a_t D) / b_t,    c = sqrt(b_s^2 - (eta std)^2).

    The recorded noise is defined with the same eta, ``w_bar = (x_s^rec - m_eta(x_t^rec,
    D_rec)) / (eta std)``, so the unedited latent retraces its recording; without the
    division (``m_eta`` is affine in ``(x, D)``):

        x_s = x_s^rec + (c / b_t) (x_t - x_t^rec) + (a_s - c a_t / b_t) (D - D_rec).

    ``eta = 1`` returns ``cycle_step`` (``c / b_t`` and ``a_s - c a_t / b_t`` are then the
    posterior-mean coefficients, so the value is the same; the dispatch makes it bit-equal).
    An edit ``x_t - x_t^rec`` is kept by ``c / b_t``: ``b_s^2 / b_t^2`` at ``eta = 1`` (the
    SDE redraws it) up to ``b_s / b_t`` at ``eta = 0``, where the step is DDIM's of ``x_t``
    plus the recorded residual ``x_s^rec - m_0(x_t^rec, D_rec)``. On the last step
    (``b_s = 0``) every eta gives ``x_s^rec + a_s (D - D_rec)``.
    """
    if eta == 1:
        return cycle_step(schedule, x, denoised, x_rec, denoised_rec, x_rec_next, sigma, sigma_next)
    # 1. DDIM's coefficients: m_eta(x, D) = coef_x x + coef_x0 D
    _, _, std = posterior(schedule, sigma, sigma_next)
    a_t, b_t = schedule.a(sigma), schedule.b(sigma)
    a_s, b_s = schedule.a(sigma_next), schedule.b(sigma_next)
    c = max(b_s**2 - (eta * std) ** 2, 0.0) ** 0.5
    coef_x, coef_x0 = c / b_t, a_s - c * a_t / b_t
    # 2. m_eta(x, D) - m_eta(x_rec, D_rec) from the differences, as in cycle_step
    mean_shift = coef_x * (x - x_rec) + coef_x0 * (denoised - denoised_rec)
    # 3. the step driven by the recorded noise (same eta): x_s^rec + mean_shift
    return x_rec_next + mean_shift


def recorded_noise(schedule: Schedule, x_rec, denoised_rec, x_rec_next, sigma, sigma_next):
    """``w_bar = (x_s^rec - mu(x_t^rec, D_rec)) / std`` (steps with ``std > 0`` only)."""
    _, _, std = posterior(schedule, sigma, sigma_next)
    if not std > 0:
        raise ValueError(
            f"recorded_noise is undefined on a step with std = 0 (sigma_next = {sigma_next}); "
            f"use cycle_step, which needs no division."
        )
    return (x_rec_next - _mean(schedule, x_rec, denoised_rec, sigma, sigma_next)) / std


def _check_recorded(x, sigmas, trajectory, mask):
    """Validate a masked/recorded denoising call once; returns the broadcastable mask."""
    check_sigmas(sigmas)
    if trajectory is None:
        raise ValueError("trajectory is required: pass the Trajectory recorded at these sigmas.")
    if trajectory.sigmas.shape != sigmas.shape or not torch.equal(
        trajectory.sigmas.to(sigmas), sigmas
    ):
        raise ValueError(
            "sigmas must equal trajectory.sigmas (denoise over the levels that were recorded), "
            f"got {sigmas.tolist()} vs {trajectory.sigmas.tolist()}."
        )
    if trajectory.states.shape[1:] != x.shape:
        raise ValueError(
            f"x of shape {tuple(x.shape)} does not match the recorded latents "
            f"{tuple(trajectory.states.shape[1:])}."
        )
    if mask is not None and x.ndim == 4:
        mask = check_mask(mask, x.shape)
    return mask


def sample_cycle_sde(
    model,
    x,
    sigmas,
    extra_args=None,
    callback=None,
    disable=None,
    trajectory: Trajectory = None,
    schedule: Schedule = VP,
    mask=None,
    step_kwargs=None,
    eta=1.0,
):
    """Cycle-SDE denoising of an edited latent ``x`` (at ``sigmas[0]``) along a recording.

    Each step makes ONE model call on ``torch.cat([x, trajectory.states[i]])``: rows
    ``[:B]`` are the edited latent, rows ``[B:]`` the recorded one, with
    ``model(batch, sigma * ones(2B), **extra_args, **step_kwargs(i))`` (a model wrapper may
    condition the two halves differently, e.g. source prompt for the recorded half in
    DiffEdit). Then ``cycle_step``; then, if ``mask`` (1 = editable) is given, the region
    outside it is taken from ``trajectory.states[i + 1]``. ``eta`` in [0, 1] (default 1, the
    paper's step) selects ``cycle_step_eta``: reconstruction stays exact for every eta. ``eta``
    may also be one value per step (``sde_core.switch_etas``): each step is exact on its own.
    """
    mask = _check_recorded(x, sigmas, trajectory, mask)
    extra_args = {} if extra_args is None else extra_args
    levels = sigmas.tolist()
    etas = step_etas(eta, len(levels) - 1)
    batch = x.shape[0]
    for i in step_range(len(levels) - 1, disable):
        x_rec, x_rec_next = trajectory.states[i].to(x), trajectory.states[i + 1].to(x)
        both = torch.cat([x, x_rec])
        more = step_kwargs(i) if step_kwargs else {}
        denoised_both = model(both, sigma_vector(sigmas[i], both), **extra_args, **more)
        denoised, denoised_rec = denoised_both[:batch], denoised_both[batch:]
        if callback is not None:
            callback(payload(x, i, sigmas[i], denoised))
        x = cycle_step_eta(
            schedule, x, denoised, x_rec, denoised_rec, x_rec_next, levels[i], levels[i + 1], etas[i]
        )
        x = keep_outside(x, x_rec_next, mask)
    return x


def sample_ode_masked(
    model,
    x,
    sigmas,
    extra_args=None,
    callback=None,
    disable=None,
    trajectory: Trajectory = None,
    schedule: Schedule = VP,
    mask=None,
    step_kwargs=None,
):
    """DDIM (eta = 0) denoising; with ``mask`` (1 = editable) the region outside it is taken
    from ``trajectory.states[i + 1]`` after each step (ODE-Drag, DiffEdit-ODE).

    One model call per step on ``x`` alone; ``trajectory`` is needed only with a mask.
    """
    if trajectory is not None:
        mask = _check_recorded(x, sigmas, trajectory, mask)
    else:
        if mask is not None:
            raise ValueError("mask needs a trajectory to take the unmasked region from.")
        check_sigmas(sigmas)
    extra_args = {} if extra_args is None else extra_args
    levels = sigmas.tolist()
    for i in step_range(len(levels) - 1, disable):
        more = step_kwargs(i) if step_kwargs else {}
        denoised = model(x, sigma_vector(sigmas[i], x), **extra_args, **more)
        if callback is not None:
            callback(payload(x, i, sigmas[i], denoised))
        x = eta_step(schedule, x, denoised, levels[i], levels[i + 1], 0.0)
        if mask is not None:
            x = keep_outside(x, trajectory.states[i + 1].to(x), mask)
    return x
