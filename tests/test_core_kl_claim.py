"""The paper's central claim, measured: after an edit, SDE sampling shrinks the KL, ODE keeps it.

The edited start is the true marginal at t0, shifted by one standard deviation and widened
1.5x. The reference is the same sampler started from the true marginal, so both go through
the same Markov kernel every step: the SDE's KL can only shrink (data processing, strictly
where the step adds noise), and the ODE's, an invertible affine map applied to both, stays
constant. KL to the exact data marginal p_s is printed for information only.
"""

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from core_problems import GAUSSIAN, edit_sigmas, format_kl_table, kl_rows, step_moments

SCHEDULES = {"vp": sde_core.VP, "flow": sde_core.FLOW}
STEPS, T0 = 50, 0.6


@pytest.mark.parametrize("kind", SCHEDULES)
def test_sde_kl_to_the_same_sampler_from_the_true_marginal_shrinks_every_noisy_step(kind):
    schedule = SCHEDULES[kind]
    rows = kl_rows(schedule=schedule, steps=STEPS, t0=T0)
    print(f"\n{kind}\n" + format_kl_table(rows))
    sigmas = edit_sigmas(schedule, STEPS, T0).tolist()
    kl = [row[2] for row in rows]
    for j in range(STEPS):
        _, _, std = sde_core.posterior(schedule, sigmas[j], sigmas[j + 1])
        if std > 0:
            assert kl[j + 1] < kl[j], (j, kl[j], kl[j + 1])
        else:  # the last step, to b = 0, is an invertible map: KL unchanged
            assert j == STEPS - 1 and kl[j + 1] == pytest.approx(kl[j], rel=1e-9)
    assert kl[-1] < 0.15 * kl[0]


@pytest.mark.parametrize("kind", SCHEDULES)
def test_ode_kl_to_the_same_sampler_from_the_true_marginal_stays_at_its_start(kind):
    rows = kl_rows(schedule=SCHEDULES[kind], steps=STEPS, t0=T0)
    start = rows[0][3]
    assert start > 1.0
    for row in rows:
        assert abs(row[3] - start) <= 1e-6 * start, row


def test_the_sde_ends_closer_to_the_data_than_the_ode():
    rows = kl_rows(schedule=sde_core.VP, steps=STEPS, t0=T0)
    assert rows[-1][4] < 0.2 * rows[-1][5]  # information: KL to the exact data marginal


def test_the_moment_propagation_agrees_with_the_sampler_run_on_samples():
    # The table pushes Gaussian moments through eta_step; run sample_eta on 30k draws of the
    # same edited start and compare mean and variance within sampling error.
    schedule, steps = sde_core.VP, 10
    sigmas = edit_sigmas(schedule, steps, T0)
    mean, var = GAUSSIAN.marginal_moments(schedule, sigmas[0].item())
    mean, var = mean + var.sqrt(), 2.25 * var
    gen = torch.Generator().manual_seed(1234)
    shape = (30000, 3, 1, 1)
    x = mean.reshape(1, 3, 1, 1) + var.sqrt().reshape(1, 3, 1, 1) * torch.randn(shape, generator=gen, dtype=torch.float64)
    out = sde_core.sample_eta(
        GAUSSIAN.denoiser(schedule), x, sigmas, eta=1.0,
        noise_sampler=lambda s, sn: torch.randn(shape, generator=gen, dtype=torch.float64),
    )
    levels = sigmas.tolist()
    for j in range(steps):
        mean, var = step_moments(GAUSSIAN, schedule, mean, var, levels[j], levels[j + 1], 1.0)
    n = shape[0]
    assert ((out.mean((0, 2, 3)) - mean).abs() < 5 * (var / n).sqrt()).all()
    assert ((out.var((0, 2, 3)) - var).abs() < 5 * var * (2 / n) ** 0.5).all()
