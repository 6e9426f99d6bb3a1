"""Denoising along a recording: Cycle-SDE (the paper's SDE) and masked DDIM (the ODE baseline)."""
from __future__ import annotations

from ..sde_core import guidance_scales, sample_cycle_sde, sample_ode_masked
from . import inputs
from .common import CATEGORY
from .host import (GuidanceSpec, Progress, StepControls, image_factor, latent_samples, mask_for, run_sampler,
                   with_samples)

RAMPS = ["constant", "linear from 1 (paper)"]


def denoise_along(model, latent, recorded, sampler, spec: GuidanceSpec, mask=None, cfg_ramp=RAMPS[0],
                  recorded_branch=False, seed=0):
    """Denoise the edited `latent` (noised at t0) along `recorded` with `sampler`
    (sample_cycle_sde or sample_ode_masked), inside ComfyUI's guider."""
    samples = latent_samples(latent)
    recorded.check_matches(samples)
    sigmas = recorded.sigmas
    steps = len(sigmas) - 1
    guider = spec.build(recorded_branch=recorded_branch)
    cfg_scales = guidance_scales(steps, spec.base_cfg) if cfg_ramp != RAMPS[0] else None
    controls = StepControls(guider, Progress(model, steps), cfg_scales=cfg_scales)
    region = mask_for(mask, samples.shape, image_factor(recorded.latent_format))

    def sampler_fn(denoiser, x, sigmas, extra_args=None, callback=None, disable=None):
        return sampler(controls.wrap(denoiser), x, sigmas, extra_args=extra_args, disable=disable,
                       trajectory=recorded.trajectory, schedule=recorded.schedule, mask=region,
                       step_kwargs=controls.step_kwargs)

    return with_samples(latent, run_sampler(guider, samples, sigmas, sampler_fn, seed=seed).float())


def _denoise_inputs(recorded_branch: bool):
    optional = {"positive": inputs.POSITIVE, "negative": inputs.NEGATIVE, "cfg": inputs.CFG,
                "guider": inputs.GUIDER, "mask": inputs.MASK,
                "cfg_ramp": (RAMPS, {"default": RAMPS[0], "tooltip": "Guidance per step: constant, or the paper's "
                                     "linear ramp from 1 near the image to cfg at t0 (SDE-Drag)."})}
    if recorded_branch:
        optional["recorded_positive"] = ("CONDITIONING", {
            "tooltip": "Optional prompt for the recorded branch (DiffEdit-SDE: the SOURCE prompt; positive is then "
                       "the target prompt). Without it both branches see positive, and an unedited latent comes "
                       "back unchanged."})
        optional["recorded_negative"] = ("CONDITIONING", {"tooltip": "Negative for the recorded branch "
                                                                     "(defaults to negative)."})
    return {"required": {"model": inputs.MODEL, "latent": ("LATENT", {"tooltip": "The (edited) latent at t0."}),
                         "trajectory": inputs.TRAJECTORY},
            "optional": optional}


class SDEDragCycleDenoise:
    DESCRIPTION = ("SDE Denoise (Cycle-SDE): the DDPM sampler driven by the noise recorded by Stochastic "
                   "Inversion. Unedited, it returns the input exactly; edited, it is the paper's SDE edit. Each "
                   "step evaluates the edited and the recorded latent in one batched model call.")
    CATEGORY = CATEGORY
    FUNCTION = "denoise"
    RETURN_TYPES = ("LATENT",)
    OUTPUT_TOOLTIPS = ("The clean edited latent.",)

    @classmethod
    def INPUT_TYPES(cls):
        return _denoise_inputs(recorded_branch=True)

    def denoise(self, model, latent, trajectory, positive=None, negative=None, cfg=3.0, guider=None, mask=None,
                cfg_ramp=RAMPS[0], recorded_positive=None, recorded_negative=None):
        if trajectory.method != "sde":
            raise ValueError("trajectory: this recording comes from ODE Inversion; Cycle-SDE needs the "
                             "recording of Stochastic Inversion (or use ODE Denoise)")
        spec = GuidanceSpec(model, guider, positive, negative, cfg, recorded_positive, recorded_negative)
        return (denoise_along(model, latent, trajectory, sample_cycle_sde, spec, mask, cfg_ramp,
                              recorded_branch=True),)


class SDEDragODEDenoise:
    DESCRIPTION = ("ODE Denoise (DDIM, eta = 0): the deterministic baseline. With a mask, the region outside it "
                   "is taken from the recording after every step.")
    CATEGORY = CATEGORY
    FUNCTION = "denoise"
    RETURN_TYPES = ("LATENT",)
    OUTPUT_TOOLTIPS = ("The clean latent.",)

    @classmethod
    def INPUT_TYPES(cls):
        return _denoise_inputs(recorded_branch=False)

    def denoise(self, model, latent, trajectory, positive=None, negative=None, cfg=3.0, guider=None, mask=None,
                cfg_ramp=RAMPS[0]):
        spec = GuidanceSpec(model, guider, positive, negative, cfg)
        return (denoise_along(model, latent, trajectory, sample_ode_masked, spec, mask, cfg_ramp),)


NODE_CLASS_MAPPINGS = {"SDEDragCycleDenoise": SDEDragCycleDenoise, "SDEDragODEDenoise": SDEDragODEDenoise}
NODE_DISPLAY_NAME_MAPPINGS = {"SDEDragCycleDenoise": "SDE Denoise (Cycle-SDE)",
                              "SDEDragODEDenoise": "ODE Denoise (DDIM)"}
