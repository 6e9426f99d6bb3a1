"""SDE vs ODE drag on the exact-score model (studies/exact_mixture.py): the claims that hold.

128 scenes with the object at (5, 8) dragged to (11, 8), r 3, beta 0.3, the exact denoiser,
SD1.5's schedule; the paper's steps (200) unless a test says otherwise. Realism: the exact
log-likelihood against that of 128 fresh data scenes with the object at the target, and the
variance of the whitened residual inside the pasted square (1 for data). Accuracy: the
posterior weight of the target's component. `make eval` runs the full grid (N = 256).
"""

import functools

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from studies.exact_mixture import TexturedObjectScenes, drag, drag_measures, drag_sigmas, gaussian_fit_kl, pasted_latent

N, SOURCE, TARGET, R = 128, (5, 8), (11, 8), 3
SCENES = TexturedObjectScenes()
INPUTS = SCENES.sample(N, torch.Generator().manual_seed(5), points=SOURCE)
FRESH = SCENES.log_prob(SCENES.sample(N, torch.Generator().manual_seed(6), points=TARGET))
GAP_CI = 1.96 * ((FRESH.var() * 2 / N) ** 0.5).item()  # 95 % interval of a difference of mean log-likelihoods
(_, _), (TARGET_ROWS, TARGET_COLS) = sde_core.patch_bounds(SOURCE, TARGET, R, 16, 16)


@functools.lru_cache(maxsize=None)
def run(method="sde", eta=1.0, t0=0.6, steps=200, alpha=1.1, step_size=6):
    """Drag the N scenes once per setting; the measures as plain numbers."""
    results = drag(SCENES.denoiser(), INPUTS, SOURCE, TARGET, drag_sigmas(steps, t0), method=method, eta=eta,
                   alpha=alpha, r=R, step_size=step_size, generator=torch.Generator().manual_seed(7))
    m = drag_measures(SCENES, results, SOURCE, TARGET, FRESH)
    z = m["whitened"].reshape(N, 16, 16)
    out = {
        "gap": (m["log_prob"].mean() - FRESH.mean()).item(),
        "atypical": m["atypical"].mean().item(),
        "kl": gaussian_fit_kl(m["whitened"]),
        "pasted_var": z[:, TARGET_ROWS, TARGET_COLS].var().item(),
        "target": m["target_weight"].mean().item(),
        "near": m["near_target"].mean().item(),
    }
    print((method, eta, t0, steps, alpha, step_size), {k: round(v, 3) for k, v in out.items()})
    return out


def test_at_the_paper_settings_sde_is_as_realistic_as_data_where_it_pasted_and_ode_is_not():
    # steps 200, t0 0.6, alpha 1.1, step_size 2 (three sub-drags)
    sde, ode = run("sde", step_size=2), run("ode", step_size=2)
    assert abs(sde["gap"]) < GAP_CI and sde["atypical"] <= 0.05
    assert abs(sde["pasted_var"] - 1) < 0.1  # the pasted square's texture is data's
    assert ode["pasted_var"] > 1.3  # ODE carries the paste (its alpha) to the result
    assert sde["kl"] < ode["kl"]


def test_at_the_paper_settings_ode_lands_the_object_far_more_often_than_sde():
    # the SDE redraws the object's position from the posterior at t0, where it is uncertain
    sde, ode = run("sde", step_size=2), run("ode", step_size=2)
    assert ode["target"] > sde["target"] + 0.4
    assert ode["near"] > sde["near"] + 0.4


def test_a_stronger_paste_raises_odes_excess_in_the_pasted_square_and_not_sdes():
    # alpha 1.3 takes the pasted latent further from the marginal: ODE carries it to the result
    ode_11, ode_13 = run("ode", alpha=1.1), run("ode", alpha=1.3)
    sde_13 = run("sde", alpha=1.3)
    assert ode_13["pasted_var"] > ode_11["pasted_var"] + 0.2
    assert abs(sde_13["pasted_var"] - 1) < 0.1 and abs(sde_13["gap"]) < GAP_CI
    assert ode_13["gap"] < -GAP_CI


def test_with_few_steps_ode_results_are_too_smooth_and_sde_results_still_as_likely_as_data():
    # the DDIM round trip itself smooths the texture at 25 steps; the SDE's steps are exact kernels
    sde, ode = run("sde", steps=25), run("ode", steps=25)
    assert abs(sde["gap"]) < GAP_CI
    assert ode["gap"] > 5 * GAP_CI


def test_a_lower_t0_raises_the_sdes_accuracy_and_keeps_the_pasted_square_realistic():
    low, high = run("sde", t0=0.4), run("sde", t0=0.6)
    assert low["target"] > high["target"] + 0.2
    assert abs(low["gap"]) < 2 * GAP_CI and abs(low["pasted_var"] - 1) < 0.1


def test_cycle_sde_below_eta_one_loses_realism_without_reaching_odes_accuracy():
    # The recorded residual at eta < 1 removes the *recording's* noise while DDIM keeps the
    # edited region's own: the edit's noise is never reduced, so the pasted square comes out rough.
    sde, ode = run("sde"), run("ode")
    for eta in (0.5, 0.0):
        inner = run("sde", eta=eta)
        assert inner["gap"] < -5 * GAP_CI, eta
        assert inner["pasted_var"] > 1.4 and inner["pasted_var"] > ode["pasted_var"] + 0.2, eta
        assert inner["near"] < ode["near"], eta
    assert run("sde", eta=0.0)["gap"] < run("sde", eta=0.5)["gap"] < sde["gap"]


@pytest.mark.parametrize("t0", (0.4, 0.6))
def test_sde_places_the_object_as_the_exact_posterior_at_t0_of_the_pasted_latent_says(t0):
    # The paper's theorem in this setting: from the pasted latent the SDE samples p(x0 | x_t0),
    # so where the object lands is what the exact posterior at t0 gives, within sampling error.
    sigmas = drag_sigmas(50, t0)
    pasted = pasted_latent(INPUTS, SOURCE, TARGET, sigmas, r=R, generator=torch.Generator().manual_seed(7))
    at_t0 = SCENES.component_posterior(pasted, sigmas[0].item())[:, TARGET[1], TARGET[0]].mean()
    landed = run("sde", t0=t0, steps=50)["target"]
    # a posterior weight w is the probability of a landing: the mean landing is within 3 binomial std of it
    assert abs(landed - at_t0) < 3 * (at_t0 * (1 - at_t0) / N) ** 0.5, (landed, at_t0)
