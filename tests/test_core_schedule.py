"""Schedules ``x = a(sigma) x0 + b(sigma) eps`` and cutting a schedule at ``t0``."""

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import torch

import sde_core
from core_problems import sd15_sigmas


def test_vp_is_a_1_b_sigma_and_flow_is_a_1_minus_sigma_b_sigma_for_floats_and_tensors():
    s = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float64)
    assert torch.equal(sde_core.VP.a(s), torch.ones_like(s)) and torch.equal(sde_core.VP.b(s), s)
    assert torch.equal(sde_core.FLOW.a(s), 1 - s) and torch.equal(sde_core.FLOW.b(s), s)
    assert sde_core.VP.a(0.5) == 1.0 and sde_core.FLOW.a(0.25) == 0.75
    assert isinstance(sde_core.VP.a(0.5), float)


def test_vp_scale_is_sqrt_of_a_squared_plus_b_squared():
    assert sde_core.VP.vp_scale(2.0) == 5.0**0.5
    assert abs(sde_core.FLOW.vp_scale(0.5) - 0.5**0.5) < 1e-15


def test_t0_sigmas_keeps_the_last_round_t0_times_steps_steps():
    sigmas = sd15_sigmas(200)
    cut = sde_core.t0_sigmas(sigmas, 0.6)
    assert len(cut) == 121 and cut[-1] == 0 and torch.equal(cut, sigmas[-121:])
    assert torch.equal(sde_core.t0_sigmas(sigmas, 1.0), sigmas)
    assert len(sde_core.t0_sigmas(sd15_sigmas(10), 0.06)) == 2  # 0.6 steps rounds up to 1
