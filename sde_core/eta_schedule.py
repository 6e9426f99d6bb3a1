"""A time-varying DDIM eta inside one Cycle-SDE denoising: the switch schedule.

``cycle_step_eta`` reconstructs the recording exactly for every eta in [0, 1] at every step,
so eta may change from step to step and the unedited latent still retraces its recording.
The switch schedule (issue 28) runs ODE-like steps (eta 0) where the noise is high (where an
object's position is decided) and SDE steps (eta 1) where it is low (where texture is), or
the reverse as a control.
"""

from __future__ import annotations

from .validate import check_eta

__all__ = ["switch_etas", "step_etas"]


def switch_etas(n_steps: int, switch: float, ode_first: bool = True) -> list[float]:
    """Per-step etas of ``n_steps`` denoising steps (step 0 at the highest sigma):

        k = round(switch * n_steps),
        eta_i = 0 for i < k and 1 for i >= k      (ode_first, "ODE then SDE"),
        eta_i = 1 for i < k and 0 for i >= k      (not ode_first, the control).

    i.e. eta(sigma) = 0 for sigma >= sigma_k and 1 below it. ``switch`` in [0, 1]: with
    ode_first, 0 is SDE-Drag's eta 1 at every step and 1 is Cycle-SDE at eta 0 at every step.
    """
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int (the denoising steps), got {n_steps!r}.")
    if not 0.0 <= switch <= 1.0:
        raise ValueError(f"switch must be in [0, 1] (the share of steps, from the noisy end, before the "
                         f"switch), got {switch!r}.")
    k = round(switch * n_steps)
    first, second = (0.0, 1.0) if ode_first else (1.0, 0.0)
    return [first] * k + [second] * (n_steps - k)


def step_etas(eta, n_steps: int) -> list[float]:
    """``eta`` as one value per step: a float is repeated; a sequence must have ``n_steps``
    entries, each checked to lie in [0, 1]."""
    if isinstance(eta, (int, float)):
        return [check_eta(eta)] * n_steps
    etas = [check_eta(e) for e in eta]
    if len(etas) != n_steps:
        raise ValueError(f"eta has {len(etas)} entries but there are {n_steps} denoising steps: pass one "
                         f"eta per step (e.g. sde_core.switch_etas(n_steps, switch)) or one float.")
    return etas
