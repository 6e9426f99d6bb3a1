"""DiffEdit's mask (Couairon et al. 2023): where the noise predictions under the source and the
target prompt differ.

For each of ``N`` seeded noises the same noised latent is read by the model under both prompts;
the map is ``|mean_n (eps_target - eps_source)|`` averaged over channels, normalised per image
by its largest value, optionally blurred, then thresholded. A map whose largest value is below
``floor`` (equal prompts) is all zeros, never rounding noise blown up to full scale.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._loop import sigma_vector
from .posterior import noise_to
from .schedule import VP, Schedule

__all__ = ["EpsPredictions", "eps_predictions", "difference_map", "blur_map", "diffedit_mask"]


class EpsPredictions(NamedTuple):
    """The model's noise predictions ``[noises, B, C, H, W]`` under the source and the target prompt."""

    source: torch.Tensor
    target: torch.Tensor

    def to(self, device) -> "EpsPredictions":
        return EpsPredictions(self.source.to(device), self.target.to(device))


def eps_predictions(model, x, sigmas, extra_args=None, callback=None, disable=None, *, noises,
                    schedule: Schedule = VP) -> EpsPredictions:
    """DiffEdit's readings, k-diffusion-shaped: for each ``e`` in ``noises`` the clean ``x`` noised
    to ``sigma = sigmas[0]``, ``x_t = a x + b e``, is read once as the batch ``[x_t; x_t]`` (a model
    wrapper conditions the first half on the target prompt, the second on the source) and
    ``eps = (x_t - a D) / b``."""
    sigma = float(sigmas[0])
    a, b = schedule.a(sigma), schedule.b(sigma)
    extra_args = {} if extra_args is None else extra_args
    source, target = [], []
    for e in noises:
        xt = noise_to(schedule, x, sigma, e.to(x))
        both = torch.cat([xt, xt])
        denoised = model(both, sigma_vector(sigma, both), **extra_args)
        pred = ((both - a * denoised) / b).float()
        target.append(pred[: xt.shape[0]])
        source.append(pred[xt.shape[0]:])
    return EpsPredictions(torch.stack(source), torch.stack(target))


def difference_map(eps_source: torch.Tensor, eps_target: torch.Tensor, floor: float = 1e-6) -> torch.Tensor:
    """``[N, B, C, H, W]`` predictions (N noises) -> ``[B, H, W]`` map in [0, 1] (see module doc)."""
    if eps_source.shape != eps_target.shape or eps_source.ndim != 5:
        raise ValueError(
            f"eps_source and eps_target must both be [noises, batch, channels, height, width], got "
            f"{tuple(eps_source.shape)} and {tuple(eps_target.shape)}."
        )
    diff = (eps_target - eps_source).mean(0).abs().mean(1)  # [B, H, W]
    peak = diff.flatten(1).max(1).values.view(-1, 1, 1)
    return torch.where(peak > floor, diff / peak.clamp(min=floor), torch.zeros_like(diff))


def blur_map(m: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[B, H, W]`` with std ``sigma`` cells (0: unchanged), edges replicated."""
    if sigma <= 0:
        return m
    radius = max(1, int(round(3 * sigma)))
    taps = torch.arange(-radius, radius + 1, dtype=m.dtype, device=m.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = m[:, None]
    x = torch.nn.functional.pad(x, (radius, radius, 0, 0), mode="replicate")
    x = torch.nn.functional.conv2d(x, kernel.view(1, 1, 1, -1))
    x = torch.nn.functional.pad(x, (0, 0, radius, radius), mode="replicate")
    x = torch.nn.functional.conv2d(x, kernel.view(1, 1, -1, 1))
    return x[:, 0]


def diffedit_mask(eps_source, eps_target, threshold: float = 0.5, blur: float = 0.0, floor: float = 1e-6):
    """``(soft, binary)`` masks ``[B, H, W]``: the normalised difference map after ``blur``
    (re-normalised, same floor), and ``soft > threshold`` as 0/1."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}.")
    soft = difference_map(eps_source, eps_target, floor)
    if blur > 0:
        soft = blur_map(soft, blur)
        peak = soft.flatten(1).max(1).values.view(-1, 1, 1)
        soft = torch.where(peak > floor, soft / peak.clamp(min=floor), torch.zeros_like(soft))
    return soft, (soft > threshold).to(soft.dtype)
