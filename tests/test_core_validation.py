"""Bad input raises ValueError once, at the public entry, naming the argument."""

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch

import sde_core
from core_problems import GAUSSIAN, sd15_sigmas

LATENT = torch.zeros(2, 4, 8, 10, dtype=torch.float64)  # H = 8, W = 10
NOISE = lambda shape: torch.zeros(shape, dtype=torch.float64)  # noqa: E731  (refill noise, one draw per pair)


def _copy(sources, targets):
    return lambda: sde_core.copy_paste(LATENT, sources, targets, 2, 1.1, 0.3, NOISE)


def _drag(**kwargs):
    args = dict(sources=[[1, 1]], targets=[[3, 1]], sigmas=sd15_sigmas(4), method=sde_core.sde_method(sde_core.VP))
    args.update(kwargs)
    model = GAUSSIAN.denoiser(sde_core.VP)
    return lambda: sde_core.sde_drag(model, args.pop("latent", LATENT[:, :3]), **args)


BAD_INPUTS = [
    # (case, call, words the message must contain)
    ("empty sources", _copy([], []), ["sources", "empty"]),
    ("mismatched counts", _copy([[1, 1], [2, 2]], [[3, 3]]), ["sources", "targets", "2", "1"]),
    ("x outside", _copy([[1, 1], [10, 2]], [[3, 3], [4, 4]]), ["sources[1]", "pair 1", "[0, 10)", "latent cells"]),
    ("negative y", _copy([[1, 1]], [[3, -1]]), ["targets[0]", "[0, 8)"]),
    ("nan point", _copy([[1, float("nan")]], [[3, 3]]), ["sources[0]", "finite"]),
    ("points of 3 coords", _copy([[1, 1, 1]], [[3, 3, 3]]), ["sources", "[P, 2]"]),
    ("t0 zero", lambda: sde_core.check_t0(0.0), ["t0", "(0, 1]"]),
    ("t0 above one", lambda: sde_core.check_t0(1.5), ["t0", "(0, 1]"]),
    ("t0 nan", lambda: sde_core.check_t0(float("nan")), ["t0"]),
    ("t0 below one step", lambda: sde_core.t0_sigmas(sd15_sigmas(4), 0.1), ["t0", "steps", "below one step"]),
    ("steps zero", lambda: sde_core.check_steps(0), ["steps", ">= 1"]),
    ("steps fractional", lambda: sde_core.check_steps(2.5), ["steps", "whole"]),
    ("sigmas ascending", lambda: sde_core.t0_sigmas(torch.tensor([0.0, 1.0]), 1.0), ["sigmas", "descending"]),
    ("sigmas not ending at 0", lambda: sde_core.t0_sigmas(torch.tensor([2.0, 1.0]), 1.0), ["sigmas", "end at 0"]),
    ("sigmas 2-D", lambda: sde_core.check_sigmas(torch.ones(2, 2)), ["sigmas", "1-D"]),
    ("mask of wrong size", lambda: sde_core.check_mask(torch.ones(8, 9), LATENT.shape), ["mask", "(8, 9)", "(2, 4, 8, 10)"]),
    ("mask of wrong batch", lambda: sde_core.check_mask(torch.ones(3, 8, 10), LATENT.shape), ["mask", "(3, 8, 10)"]),
    ("mask 5-D", lambda: sde_core.check_mask(torch.ones(1, 1, 1, 8, 10), LATENT.shape), ["mask"]),
    ("mask with nan", lambda: sde_core.check_mask(torch.full((8, 10), float("nan")), LATENT.shape), ["mask", "NaN"]),
    ("latent 3-D", lambda: sde_core.check_latent(torch.zeros(4, 8, 8)), ["latent", "4-D"]),
    ("latent with inf", lambda: sde_core.check_latent(torch.full((1, 1, 2, 2), float("inf"))), ["latent"]),
    ("drag outside", _drag(targets=[[12, 1]]), ["targets[0]", "[0, 10)"]),
    ("drag mask shape", _drag(mask=torch.ones(4, 4)), ["mask"]),
    # sde_drag takes its inversion and denoising step as functions (sde_method / ode_method), not a string
    ("ode drag without sigma_min", lambda: sde_core.ode_method(sde_core.VP), ["sigma_min"]),
    ("step_size zero", _drag(paste=sde_core.CopyPaste(step_size=0)), ["step_size"]),
    ("ddim_invert without sigma_min", lambda: sde_core.ddim_invert(None, LATENT, sd15_sigmas(4)), ["sigma_min"]),
    ("cycle with other sigmas", lambda: sde_core.sample_cycle_sde(
        None, LATENT, sd15_sigmas(3),
        trajectory=sde_core.Trajectory(sd15_sigmas(4), torch.zeros(5, *LATENT.shape))), ["sigmas", "trajectory.sigmas"]),
    ("recorded noise on the last step", lambda: sde_core.recorded_noise(
        sde_core.VP, LATENT, LATENT, LATENT, 1.0, 0.0), ["std = 0"]),
    ("eta above one", lambda: sde_core.sample_eta(None, LATENT, sd15_sigmas(3), eta=2.0), ["eta", "[0, 1]"]),
    ("beta above one", lambda: sde_core.copy_paste(LATENT, [[1, 1]], [[2, 2]], 2, 1.1, 1.5, NOISE), ["beta", "[0, 1]"]),
    # copy_paste draws fresh refill noise per pair (as the authors' code), so noise is a function now
    ("noise that is not a function", lambda: sde_core.copy_paste(LATENT, [[1, 1]], [[2, 2]], 2, 1.1, 0.3,
                                                                 torch.zeros_like(LATENT)), ["noise"]),
    ("mask without trajectory", lambda: sde_core.sample_ode_masked(
        None, LATENT, sd15_sigmas(3), mask=torch.ones(8, 10)), ["mask", "trajectory"]),
    ("generator and noise_sampler", lambda: sde_core.record_forward(
        LATENT, sd15_sigmas(3), noise_sampler=lambda s, sn: NOISE, generator=torch.Generator()),
        ["noise_sampler", "generator"]),
    ("schedule kind", lambda: sde_core.Schedule("ve"), ["kind", "'vp'", "'flow'"]),
    ("ramp length", lambda: sde_core.guidance_scales(0, 3.0), ["n", ">= 1"]),
]


@pytest.mark.parametrize("case, call, words", BAD_INPUTS, ids=[case for case, _, _ in BAD_INPUTS])
def test_bad_input_raises_a_value_error_naming_the_argument(case, call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), (case, str(info.value))


GOOD_MASKS = [(8, 10), (1, 8, 10), (2, 8, 10), (2, 1, 8, 10), (1, 1, 8, 10), (2, 4, 8, 10)]


@pytest.mark.parametrize("shape", GOOD_MASKS, ids=str)
def test_check_mask_accepts_every_comfyui_mask_layout_and_returns_a_4d_broadcastable_mask(shape):
    mask = sde_core.check_mask(torch.ones(shape), LATENT.shape)
    assert mask.ndim == 4 and torch.broadcast_shapes(mask.shape, LATENT.shape) == LATENT.shape


def test_check_points_returns_float_tensors_and_accepts_points_on_the_last_cell():
    src, tgt = sde_core.check_points([[0, 0]], [[9, 7]], 8, 10)
    assert src.dtype == torch.float64 and tgt.tolist() == [[9.0, 7.0]]
