"""Per-step schedules of a scalar (guidance scale, LoRA scale), indexed by loop step.

Every ramp returns a list of ``n`` floats; entry ``j`` belongs to the ``j``-th denoising step
(``j = 0`` is the first step, at ``t0``; ``j = n - 1`` the last, next to the clean latent).
"""

from __future__ import annotations

import math

__all__ = ["guidance_scales", "lora_scales"]


def _check_n(n):
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n (the number of denoising steps) must be whole and >= 1, got {n!r}.")
    return int(n)


def guidance_scales(n, cfg):
    """The paper's guidance ramp: ``cfg_i = 1 + (cfg - 1) i / n`` with ``i = n - j``.

    ``cfg`` at ``t0`` (j = 0), down to ``1 + (cfg - 1) / n`` on the last step.
    """
    n = _check_n(n)
    return [1 + (cfg - 1) * (n - j) / n for j in range(n)]


def lora_scales(n, lora_scale_min):
    """The paper's LoRA ramp: ``m + (1 - m) (1 + cos(pi i / n)) / 2`` with ``i = n - j``.

    ``m = lora_scale_min`` at ``t0`` (j = 0), rising to nearly 1 on the last step.
    """
    n = _check_n(n)
    m = lora_scale_min
    return [m + (1 - m) * (1 + math.cos(math.pi * (n - j) / n)) / 2 for j in range(n)]
