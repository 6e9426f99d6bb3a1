"""SDE-Drag (Nie et al. 2024, Sec. 4.1): latent copy-paste at ``t0`` + Cycle-SDE denoising.

Points are ``(x, y)`` whole latent cells (the nodes round image pixels down to cells first,
as the authors' code does, so the plan depends only on the cells).
A long drag is split into sub-drags of about ``step_size`` cells; each one re-inverts the
current latent, copies a square patch from the source to the target at ``t0`` and denoises.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import torch

from .cycle_sde import record_forward, sample_cycle_sde, sample_ode_masked
from .sampling import ddim_invert
from .schedule import VP, Schedule
from .validate import check_eta, check_latent, check_mask, check_points, check_points_in_mask, check_sigmas

__all__ = [
    "plan_subdrags", "patch_bounds", "copy_paste", "CopyPaste", "NoiseSource", "DragResult", "sde_drag", "DragMethod",
    "sde_method", "ode_method",
]


def _count_subdrags(d: float, step_size: float) -> int:
    """The paper's rule: 1 if ``d <= step_size``, else ``floor(d / step_size)``, plus one
    if ``d / (n + 1)`` is closer to ``step_size`` than ``d / n``."""
    if d <= step_size:
        return 1
    n = math.floor(d / step_size)
    if abs(d / (n + 1) - step_size) < abs(d / n - step_size):
        n += 1
    return n


def plan_subdrags(sources, targets, step_size):
    """Split the drag into sub-drags of about ``step_size`` cells (the longest pair decides).

    With ``d`` the largest ``|target - source|`` and ``n`` from the paper's rule, sub-drag
    ``i`` moves every pair from ``source + i/n (target - source)`` to
    ``source + (i+1)/n (target - source)``, computed in float and truncated toward zero to
    integer cells (``.long()``). Returns ``n`` pairs of ``LongTensor [P, 2]``.
    """
    if not step_size > 0:
        raise ValueError(f"step_size must be > 0 latent cells, got {step_size}; the paper uses 2.")
    sources = torch.as_tensor(sources, dtype=torch.float64)
    targets = torch.as_tensor(targets, dtype=torch.float64)
    delta = targets - sources
    d = delta.norm(dim=-1).max().item()
    n = _count_subdrags(d, step_size)
    # multiply before dividing, so that exact fractions land exactly on whole cells
    return [
        ((sources + delta * i / n).long(), (sources + delta * (i + 1) / n).long())
        for i in range(n)
    ]


def patch_bounds(src, tgt, r, height, width):
    """Squares ``[p - r_low, p + r_high)`` per axis around ``src`` and ``tgt`` (x, y cells).

    The paper's boundary-adaptive radius: per side, ``r`` shrinks until both squares fit in
    the latent, so the two have the same size. Returns
    ``((src_rows, src_cols), (tgt_rows, tgt_cols))`` as slices for ``x[..., rows, cols]``.
    """
    (sx, sy), (tx, ty) = (int(v) for v in src), (int(v) for v in tgt)
    slices = []
    for s, t, size in ((sy, ty, height), (sx, tx, width)):
        low = min(r, s, t)
        high = min(r, size - s, size - t)
        slices.append((slice(s - low, s + high), slice(t - low, t + high)))
    (src_rows, tgt_rows), (src_cols, tgt_cols) = slices
    return (src_rows, src_cols), (tgt_rows, tgt_cols)


def copy_paste(x, sources, targets, r, alpha, beta, noise, scale=1.0):
    """Latent copy-paste of square patches, pair by pair in order (never mutates ``x``).

    In the variance-preserving view ``v = x / scale`` (pass ``scale = schedule.vp_scale(t0)``)
    each pair does, in this order:

    1. ``patch = v[source square]`` (as it is before this pair's refill);
    2. ``v[source square] = beta * patch + sqrt(1 - beta^2) * noise(patch.shape)``;
    3. ``v[target square] = alpha * patch`` (overwrites any overlap with step 2).

    ``noise(shape)`` draws fresh standard normal noise, called once per pair (as the authors'
    code does), so the source squares of two pairs that overlap get independent refills.
    The result is ``scale * v``, computed on the squares only, so every other cell is ``x``
    bit for bit. ``sources``/``targets``: ``[P, 2]`` integer ``(x, y)`` cells; every batch
    item gets the same points.
    """
    check_latent(x)
    height, width = x.shape[-2:]
    sources, targets = check_points(sources, targets, height, width)
    if not callable(noise):
        raise ValueError("noise must be a function shape -> standard normal tensor (one fresh draw per pair).")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1] (the share of the old source kept), got {beta}.")
    sources, targets = sources.long().tolist(), targets.long().tolist()
    return _paste_pairs(x, sources, targets, r, alpha, beta, noise, scale)


def _paste_pairs(x, sources, targets, r, alpha, beta, noise, scale):
    """``copy_paste`` without the checks (its caller has validated)."""
    height, width = x.shape[-2:]
    out = x.clone()
    keep_noise = (1 - beta**2) ** 0.5 * scale
    for src, tgt in zip(sources, targets):
        src_sq, tgt_sq = patch_bounds(src, tgt, r, height, width)
        patch = out[..., src_sq[0], src_sq[1]].clone()
        refill = keep_noise * noise(patch.shape).to(patch)
        out[..., src_sq[0], src_sq[1]] = beta * patch + refill
        out[..., tgt_sq[0], tgt_sq[1]] = alpha * patch
    return out


class CopyPaste(NamedTuple):
    """SDE-Drag's copy-paste settings (Sec. 4.1; the defaults are the paper's), in latent cells:
    ``r`` the half-size of the copied square, ``alpha`` the gain on the pasted patch, ``beta`` the
    share of the old source kept by the refill ``beta * old + sqrt(1 - beta^2) * noise``, and
    ``step_size`` the length of one sub-drag."""

    r: int = 5
    alpha: float = 1.1
    beta: float = 0.3
    step_size: float = 2


class NoiseSource:
    """All the randomness of a drag, one stream: the Cycle-SDE recording's step noise and the
    refills draw from one ``generator`` in the order they are used (recording first). Each draw
    is ``torch.randn(shape, generator=generator)`` on the generator's device, moved to ``like``'s
    (the same numbers on every device); without a generator, unseeded."""

    def __init__(self, generator=None):
        self.generator = generator

    def draw(self, shape, like: torch.Tensor) -> torch.Tensor:
        """Standard normal noise of ``shape`` with ``like``'s dtype, on ``like``'s device."""
        if self.generator is None:
            return torch.randn(shape, dtype=like.dtype, device=like.device)
        noise = torch.randn(shape, generator=self.generator, device=self.generator.device, dtype=like.dtype)
        return noise.to(like.device)

    def sampler_for(self, like: torch.Tensor):
        """k-diffusion's ``noise_sampler(sigma, sigma_next)`` drawing noise shaped like ``like``."""
        return lambda sigma, sigma_next: self.draw(like.shape, like)


class DragResult(NamedTuple):
    """What ``sde_drag`` returns: the final clean ``latent`` and one frame per sub-drag
    (``frames[-1] is latent``)."""

    latent: torch.Tensor
    frames: list

    def to(self, device) -> "DragResult":
        return DragResult(self.latent.to(device), [f.to(device) for f in self.frames])


class DragMethod(NamedTuple):
    """How ``sde_drag`` inverts and denoises each sub-drag, and what that costs:
    ``invert(model, x, sigmas, extra_args, disable, noise) -> Trajectory`` (``noise``: the drag's
    ``NoiseSource``) and ``denoise`` (a k-diffusion-shaped sampler along the trajectory, e.g.
    ``sample_cycle_sde``) together make ``calls_per_step`` model calls per step of ``sigmas``, each
    of ``latents_per_call`` latents per latent of the batch (SDE-Drag's step batches the edited
    and the recorded latent)."""

    invert: Callable
    denoise: Callable
    calls_per_step: int
    latents_per_call: int = 1


def sde_method(schedule: Schedule = VP, eta: float = 1.0) -> DragMethod:
    """SDE-Drag: Cycle-SDE recording with fresh noise from the drag's ``NoiseSource`` (no model
    call), then Cycle-SDE denoising along it (one batched [edited; recorded] call per step).
    ``eta`` < 1 denoises with ``cycle_step_eta`` (an edit kept by ``c / b_t``, from
    ``b_s^2 / b_t^2`` at eta 1 to ``b_s / b_t`` at eta 0); the recording is the same for every eta."""
    eta = check_eta(eta)

    def invert(model, x, sigmas, extra_args=None, disable=None, noise=None):
        return record_forward(x, sigmas, schedule, noise_sampler=(noise or NoiseSource()).sampler_for(x))

    denoise = sample_cycle_sde if eta == 1.0 else functools.partial(sample_cycle_sde, eta=eta)
    return DragMethod(invert, denoise, 1, latents_per_call=2)


def ode_method(schedule: Schedule = VP, sigma_min=None) -> DragMethod:
    """ODE-Drag, the paper's baseline: DDIM inversion (its first step reads the model at
    ``sigma_min``), then masked DDIM denoising along it: two calls per step."""
    if sigma_min is None:
        raise ValueError("sigma_min is required for ODE-Drag (DDIM inversion's first step).")

    def invert(model, x, sigmas, extra_args=None, disable=None, noise=None):
        return ddim_invert(model, x, sigmas, extra_args=extra_args, disable=disable, schedule=schedule,
                           sigma_min=sigma_min)

    return DragMethod(invert, sample_ode_masked, 2)


def sde_drag(
    model,
    x,
    sigmas,
    extra_args=None,
    callback=None,
    disable=None,
    *,
    sources,
    targets,
    method: DragMethod,
    paste: CopyPaste = CopyPaste(),
    noise: NoiseSource = None,
    schedule: Schedule = VP,
    mask=None,
    step_kwargs=None,
) -> DragResult:
    """SDE-Drag or ODE-Drag, by the ``method`` passed in (``sde_method(...)`` or ``ode_method(...)``),
    k-diffusion-shaped: ``model(x, sigma * ones(B), **extra_args) -> denoised``.

    ``x`` is the clean latent, ``sources``/``targets`` are whole latent cells, ``sigmas`` run
    from ``t0`` down to 0. For every sub-drag ``k`` planned by ``plan_subdrags(..., paste.step_size)``:

    1. ``trajectory = method.invert(model, current, sigmas, extra_args, disable, noise)``: the
       current latent up to ``sigmas[0]`` with every state recorded;
    2. ``copy_paste`` on ``trajectory.latent_at_t0`` with ``paste``'s ``r, alpha, beta``, a fresh
       refill per pair from ``noise`` and ``scale = schedule.vp_scale(sigmas[0])``;
    3. ``method.denoise(model, edited, sigmas, trajectory=..., schedule=..., mask=..., ...)`` (a
       k-diffusion-shaped sampler such as ``sample_cycle_sde``), keeping the region outside
       ``mask`` (1 = editable) from the inversion.

    The result is the clean latent of sub-drag ``k + 1``. Returns ``DragResult(latent, frames)``
    with one frame per sub-drag. ``callback`` gets the per-step payload plus ``'subdrag': k``.
    """
    check_latent(x)
    check_sigmas(sigmas, ends_at_zero=True)
    height, width = x.shape[-2:]
    sources, targets = check_points(sources, targets, height, width)
    if mask is not None:
        mask = check_mask(mask, x.shape)
        check_points_in_mask(sources, targets, mask)
    r, alpha, beta, step_size = paste
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1] (the share of the old source kept), got {beta}.")
    noise = NoiseSource() if noise is None else noise
    scale = schedule.vp_scale(sigmas[0].item())
    current, frames = x, []
    for k, (src, tgt) in enumerate(plan_subdrags(sources, targets, step_size)):
        step_callback = None
        if callback is not None:
            step_callback = lambda info, k=k: callback({**info, "subdrag": k})  # noqa: E731
        trajectory = method.invert(model, current, sigmas, extra_args=extra_args, disable=disable, noise=noise)
        start = trajectory.latent_at_t0
        refill = lambda shape, like=start: noise.draw(shape, like)  # noqa: E731  (fresh per pair, as the authors' code)
        edited = _paste_pairs(start, src.tolist(), tgt.tolist(), r, alpha, beta, refill, scale)
        current = method.denoise(model, edited, sigmas, extra_args=extra_args, callback=step_callback, disable=disable,
                                 trajectory=trajectory, schedule=schedule, mask=mask, step_kwargs=step_kwargs)
        frames.append(current)
    return DragResult(current, frames)
