"""The paper's claim for image-to-image (SDEdit), measured on an exact Gaussian denoiser.

Corrupted data: the data Gaussian shifted by one standard deviation and widened 1.5x. SDEdit
noises it to t0 in one shot (``x = a x0 + b eps``), then denoises over the same sigmas with
the SDE (eta 1) and the ODE (eta 0). Every step is affine for a Gaussian problem, so the
result's law is Gaussian and its moments are pushed through the very ``eta_step`` the pack
runs (``core_problems.step_moments``); the table is the closed-form KL of the result to the
data distribution. Run ``python tests/test_core_sdedit_claim.py`` to print it.
"""

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from core_problems import GAUSSIAN, MIXTURE, edit_sigmas, gaussian_kl, step_moments

SCHEDULES = {"vp": sde_core.VP, "flow": sde_core.FLOW}
STEPS, T0S = 50, (0.3, 0.5, 0.7)


def corrupted(problem=GAUSSIAN, shift=1.0, rescale=1.5):
    mean, var = problem.data_mean(), problem.data_var()
    return mean + shift * var.sqrt(), rescale**2 * var


def sdedit_kl(schedule, t0, steps=STEPS, problem=GAUSSIAN):
    """``(KL(corrupted || data), KL(SDE result || data), KL(ODE result || data))``, closed form."""
    sigmas = edit_sigmas(schedule, steps, t0).tolist()
    data = (problem.data_mean(), problem.data_var())
    m, v = corrupted(problem)
    a, b = schedule.a(sigmas[0]), schedule.b(sigmas[0])
    start = (a * m, a**2 * v + b**2)  # one-shot noising with fresh noise
    out = []
    for eta in (1.0, 0.0):
        mean, var = start
        for j in range(steps):
            mean, var = step_moments(problem, schedule, mean, var, sigmas[j], sigmas[j + 1], eta)
        out.append(gaussian_kl(mean, var, *data))
    return (gaussian_kl(m, v, *data), *out)


def sdedit_table():
    lines = ["| schedule | t0 | KL corrupted | KL SDE result | KL ODE result |", "|---|---:|---:|---:|---:|"]
    for kind, schedule in SCHEDULES.items():
        for t0 in T0S:
            start, sde, ode = sdedit_kl(schedule, t0)
            lines.append(f"| {kind} | {t0} | {start:.4f} | {sde:.4f} | {ode:.4f} |")
    return "\n".join(lines)


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("t0", T0S)
def test_sdedit_with_the_sde_ends_closer_to_the_data_than_with_the_ode(kind, t0):
    start, sde, ode = sdedit_kl(SCHEDULES[kind], t0)
    print(f"{kind} t0={t0}: KL to data: corrupted {start:.4f}, SDE {sde:.4f}, ODE {ode:.4f}")
    assert sde < ode
    assert sde < start


def test_print_the_sdedit_table():
    print("\nSDEdit on a 3-D Gaussian, 50 steps, corrupted = data shifted by 1 std and widened 1.5x\n"
          + sdedit_table())


def energy_distance(x, y):
    """Energy distance between two sample sets ``[n, d]`` (0 iff the laws are equal)."""
    return (2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean()).item()


def test_on_the_mixture_sampled_sdedit_with_the_sde_is_closer_to_the_data():
    # Information beside the Gaussian assert: shift the mixture's samples off the data, SDEdit at t0 0.5.
    schedule, n = sde_core.VP, 1500
    gen = torch.Generator().manual_seed(0)
    data = MIXTURE.sample((n, 1, 1), gen)
    clean = MIXTURE.sample((n, 1, 1), gen) + torch.tensor([0.8, -0.6, 0.5], dtype=torch.float64).view(1, 3, 1, 1)
    sigmas = edit_sigmas(schedule, 20, 0.5)
    start = sde_core.noise_to(schedule, clean, sigmas[0].item(), torch.randn(clean.shape, generator=gen,
                                                                              dtype=torch.float64))
    flat = lambda t: t.reshape(n, 3)  # noqa: E731
    dist = {"corrupted": energy_distance(flat(clean), flat(data))}
    for name, eta in (("SDE", 1.0), ("ODE", 0.0)):
        out = sde_core.sample_eta(MIXTURE.denoiser(schedule), start, sigmas, eta=eta, disable=True,
                                  noise_sampler=lambda s, sn: torch.randn(start.shape, generator=gen,
                                                                          dtype=torch.float64))
        dist[name] = energy_distance(flat(out), flat(data))
    print("mixture, VP, t0 0.5, 20 steps: energy distance to data " + ", ".join(f"{k} {v:.4f}" for k, v in dist.items()))
    assert dist["SDE"] < dist["ODE"] < dist["corrupted"]


if __name__ == "__main__":
    print(sdedit_table())
