"""The switch schedule (``sde_core.switch_etas``): eta 0 above a switch point and 1 below it
(and the reverse). Each Cycle-SDE step is exact for its own eta, so the schedule reconstructs
the recording; the switch at 0 and at 1 is the two ends bit for bit."""

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from core_problems import MIXTURE, edit_sigmas

SEED = 2812


def test_switch_etas_are_ode_then_sde_and_the_reverse():
    assert sde_core.switch_etas(4, 0.5) == [0.0, 0.0, 1.0, 1.0]
    assert sde_core.switch_etas(4, 0.5, ode_first=False) == [1.0, 1.0, 0.0, 0.0]
    assert sde_core.switch_etas(3, 0.0) == [1.0] * 3 and sde_core.switch_etas(3, 1.0) == [0.0] * 3


@pytest.mark.parametrize("kind", ("vp", "flow"))
@pytest.mark.parametrize("switch", (0.25, 0.5, 0.75))
@pytest.mark.parametrize("ode_first", (True, False))
def test_the_switch_schedule_reconstructs_the_input_exactly(kind, switch, ode_first):
    schedule = sde_core.VP if kind == "vp" else sde_core.FLOW
    gen = torch.Generator().manual_seed(SEED)
    x0 = MIXTURE.sample((2, 6, 6), gen)
    mask = torch.zeros(6, 6)
    mask[1:4, 2:6] = 1
    for t0 in (0.6, 1.0):
        sigmas = edit_sigmas(schedule, 20, t0)
        trajectory = sde_core.record_forward(x0, sigmas, schedule, generator=gen)
        etas = sde_core.switch_etas(len(sigmas) - 1, switch, ode_first)
        assert 0.0 in etas and 1.0 in etas
        for m in (None, mask):
            out = sde_core.sample_cycle_sde(MIXTURE.denoiser(schedule), trajectory.latent_at_t0, sigmas,
                                            trajectory=trajectory, schedule=schedule, mask=m, eta=etas)
            assert (out - x0).abs().max().item() < 1e-10


def test_the_switch_at_zero_and_one_is_the_two_ends_bit_for_bit_and_between_differs():
    schedule = sde_core.VP
    gen = torch.Generator().manual_seed(SEED)
    x0 = MIXTURE.sample((2, 5, 5), gen)
    sigmas = edit_sigmas(schedule, 20, 0.6)
    trajectory = sde_core.record_forward(x0, sigmas, schedule, generator=gen)
    edited = trajectory.latent_at_t0 + 0.7
    model = MIXTURE.denoiser(schedule)
    n = len(sigmas) - 1

    def run(eta):
        return sde_core.sample_cycle_sde(model, edited, sigmas, trajectory=trajectory, eta=eta)

    sde, ode_end = run(1.0), run(0.0)
    assert torch.equal(run(sde_core.switch_etas(n, 0.0)), sde)
    assert torch.equal(run(sde_core.switch_etas(n, 1.0)), ode_end)
    assert torch.equal(run(sde_core.switch_etas(n, 0.0, ode_first=False)), ode_end)
    assert torch.equal(run(sde_core.switch_etas(n, 1.0, ode_first=False)), sde)
    half = run(sde_core.switch_etas(n, 0.5))
    assert not torch.equal(half, sde) and not torch.equal(half, ode_end)


@pytest.mark.parametrize("bad, match", [((1.0, 0.0), "eta has 2 entries but there are"),
                                        ([1.5] * 12, "eta must be in \\[0, 1\\]")])
def test_a_per_step_eta_of_the_wrong_length_or_range_is_refused_naming_it(bad, match):
    sigmas = edit_sigmas(sde_core.VP, 20, 0.6)
    x0 = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    trajectory = sde_core.record_forward(x0, sigmas, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=match):
        sde_core.sample_cycle_sde(MIXTURE.denoiser(sde_core.VP), x0, sigmas, trajectory=trajectory, eta=list(bad))


def test_switch_outside_zero_one_is_refused_naming_it():
    with pytest.raises(ValueError, match="switch must be in \\[0, 1\\]"):
        sde_core.switch_etas(10, 1.2)
