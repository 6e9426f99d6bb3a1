"""SDE-Drag (Nie et al. 2024, Sec. 4.1): latent copy-paste at ``t0`` + Cycle-SDE denoising.

Points are ``(x, y)`` whole latent cells (the nodes round image pixels down to cells first,
as the authors' code does, so the plan depends only on the cells).
A long drag is split into sub-drags of about ``step_size`` cells; each one re-inverts the
current latent, copies a square patch from the source to the target at ``t0`` and denoises.
"""

from __future__ import annotations

import math

import torch

from .cycle_sde import _randn_like, record_forward, sample_cycle_sde, sample_ode_masked
from .sampling import ddim_invert
from .schedule import VP, Schedule
from .validate import check_latent, check_mask, check_points, check_sigmas

__all__ = ["pixels_to_cells", "plan_subdrags", "patch_bounds", "copy_paste", "sde_drag"]


def pixels_to_cells(points, factor):
    """Image pixels ``(x, y)`` to latent cells: ``points / factor`` (kept as floats)."""
    points = torch.as_tensor(points)
    if not points.is_floating_point():
        points = points.to(torch.float64)
    return points / factor


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


def sde_drag(
    model,
    latent,
    sources,
    targets,
    sigmas,
    *,
    schedule: Schedule = VP,
    r=5,
    alpha=1.1,
    beta=0.3,
    step_size=2,
    mask=None,
    generator=None,
    method="sde",
    sigma_min=None,
    extra_args=None,
    step_kwargs=None,
    callback=None,
    disable=None,
    on_frame=None,
):
    """SDE-Drag (``method="sde"``) or its ODE-Drag baseline (``method="ode"``).

    ``latent`` is clean, ``sources``/``targets`` are in latent cells, ``sigmas`` run from
    ``t0`` down to 0. For every planned sub-drag ``k``:

    1. invert the current latent to ``sigmas[0]``: ``record_forward`` with fresh noise from
       ``generator`` (sde) or ``ddim_invert`` at ``sigma_min`` (ode);
    2. ``copy_paste`` on the latent at ``t0`` with fresh refill noise per pair from ``generator`` and
       ``scale = schedule.vp_scale(sigmas[0])``;
    3. denoise with ``sample_cycle_sde`` (sde) or ``sample_ode_masked`` (ode), keeping the
       region outside ``mask`` (1 = editable) from the inversion.

    The result is the clean latent of sub-drag ``k + 1``. Returns ``(final, frames)`` with
    one frame per sub-drag (``frames[-1] is final``). ``callback`` gets the per-step payload
    plus ``'subdrag': k``; ``on_frame(k, latent)`` is called after each sub-drag.
    """
    if method not in ("sde", "ode"):
        raise ValueError(f"method must be one of 'sde', 'ode', got {method!r}.")
    check_latent(latent)
    check_sigmas(sigmas, ends_at_zero=True)
    height, width = latent.shape[-2:]
    sources, targets = check_points(sources, targets, height, width)
    if mask is not None:
        mask = check_mask(mask, latent.shape)
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1] (the share of the old source kept), got {beta}.")
    if method == "ode" and sigma_min is None:
        raise ValueError("sigma_min is required for method='ode' (DDIM inversion's first step).")
    scale = schedule.vp_scale(sigmas[0].item())
    current, frames = latent, []
    for k, (src, tgt) in enumerate(plan_subdrags(sources, targets, step_size)):
        step_callback = None
        if callback is not None:
            step_callback = lambda info, k=k: callback({**info, "subdrag": k})  # noqa: E731
        loop = dict(extra_args=extra_args, callback=step_callback, disable=disable)
        if method == "sde":
            trajectory = record_forward(current, sigmas, schedule, generator=generator)
        else:
            trajectory = ddim_invert(
                model, current, sigmas, extra_args=extra_args, disable=disable,
                schedule=schedule, sigma_min=sigma_min,
            )
        start = trajectory.latent_at_t0
        noise = lambda shape: _randn_like(start.new_empty(shape), generator)  # noqa: E731  (fresh per pair)
        edited = _paste_pairs(start, src.tolist(), tgt.tolist(), r, alpha, beta, noise, scale)
        sampler = sample_cycle_sde if method == "sde" else sample_ode_masked
        current = sampler(
            model, edited, sigmas, trajectory=trajectory, schedule=schedule, mask=mask,
            step_kwargs=step_kwargs, **loop,
        )
        frames.append(current)
        if on_frame is not None:
            on_frame(k, current)
    return current, frames
