"""The preamble every sampling loop shares (one copy, not three)."""

from __future__ import annotations

import torch

try:  # tqdm ships with ComfyUI; the core works without it.
    from tqdm.auto import trange as _trange
except ImportError:  # pragma: no cover
    _trange = None


def step_range(n: int, disable=None):
    """``range(n)`` with tqdm's console bar (``disable=None``: on a terminal only)."""
    if _trange is None or disable is True:
        return range(n)
    return _trange(n, disable=disable)


def sigma_vector(sigma, x: torch.Tensor) -> torch.Tensor:
    """k-diffusion's model input ``sigma * x.new_ones([x.shape[0]])`` (sigma: float or tensor)."""
    if not isinstance(sigma, torch.Tensor):
        sigma = torch.tensor(sigma, dtype=x.dtype, device=x.device)
    return sigma.to(x) * x.new_ones([x.shape[0]])


def keep_outside(x: torch.Tensor, keep: torch.Tensor, mask) -> torch.Tensor:
    """``mask * x + (1 - mask) * keep`` (mask 1 = editable); exact for a 0/1 mask."""
    if mask is None:
        return x
    mask = mask.to(x)
    return mask * x + (1 - mask) * keep


def payload(x, i, sigma, denoised, **more) -> dict:
    """The k-diffusion callback payload (ComfyUI's previews read it)."""
    return {"x": x, "i": i, "sigma": sigma, "sigma_hat": sigma, "denoised": denoised, **more}
