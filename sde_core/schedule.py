"""Noise schedules in ComfyUI's sampling space: ``x = a(sigma) * x0 + b(sigma) * eps``.

| kind   | ComfyUI model_sampling | a(sigma)    | b(sigma) |
|--------|------------------------|-------------|----------|
| "vp"   | EPS, V_PREDICTION      | 1           | sigma    |
| "flow" | CONST (rectified flow) | 1 - sigma   | sigma    |

Every sampler in ``sde_core`` is written once over ``a`` and ``b``; a schedule is only the
pair. Sigma schedules are DESCENDING 1-D tensors as in ComfyUI (``sigmas[-1] == 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .validate import check_sigmas, check_t0

__all__ = ["Schedule", "VP", "FLOW", "t0_sigmas"]

_KINDS = ("vp", "flow")


@dataclass(frozen=True)
class Schedule:
    """The pair ``a(sigma)``, ``b(sigma)`` of one model family (see the module table)."""

    kind: str

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"Schedule kind must be one of {_KINDS}, got {self.kind!r}.")

    def a(self, sigma):
        """Signal coefficient ``a(sigma)``: 1 for "vp", ``1 - sigma`` for "flow"."""
        if self.kind == "flow":
            return 1 - sigma
        return torch.ones_like(sigma) if isinstance(sigma, torch.Tensor) else 1.0

    def b(self, sigma):
        """Noise coefficient ``b(sigma) = sigma`` (both kinds)."""
        return sigma * 1.0

    def vp_scale(self, sigma):
        """``k = sqrt(a^2 + b^2)``: ``x / k`` is the variance-preserving view of a noisy latent."""
        return (self.a(sigma) ** 2 + self.b(sigma) ** 2) ** 0.5


VP = Schedule("vp")
FLOW = Schedule("flow")


def t0_sigmas(sigmas: torch.Tensor, t0: float) -> torch.Tensor:
    """Keep the last ``n = round(t0 * steps)`` steps of a full schedule: ``sigmas[-(n+1):]``.

    ``sigmas`` holds ``steps + 1`` descending values ending at 0 (a ComfyUI SIGMAS of the
    full schedule); the result starts at the edit time ``t0`` and still ends at 0.
    """
    check_t0(t0)
    check_sigmas(sigmas, ends_at_zero=True)
    steps = len(sigmas) - 1
    n = int(round(t0 * steps))
    if n < 1:
        raise ValueError(
            f"t0 * steps = {t0} * {steps} = {t0 * steps:.3g} is below one step; "
            f"raise t0 or steps so that round(t0 * steps) >= 1."
        )
    return sigmas[-(n + 1):]
