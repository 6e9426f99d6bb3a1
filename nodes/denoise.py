"""Denoising along a recording: Cycle-SDE (the paper's SDE) and masked DDIM (the ODE baseline)."""
from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..sde_core import guidance_scales, sample_cycle_sde, sample_ode_masked
from . import inputs
from .base import SDEDragNode
from .guidance import GuidanceSpec
from .masks import mask_for
from .model_space import image_factor, latent_samples, with_samples
from .runner import Progress, StepControls, reserve_for_batch, run_sampler

RAMPS = ["constant", "linear from 1 (paper)"]


def denoise_along(model, latent, recorded, sampler, spec: GuidanceSpec, mask=None, cfg_ramp=RAMPS[0],
                  recorded_branch=False, seed=0):
    """Denoise the edited `latent` (noised at t0) along `recorded` with `sampler`
    (sample_cycle_sde or sample_ode_masked), inside ComfyUI's guider."""
    if cfg_ramp not in RAMPS:  # a linked value is not seen by validate_inputs
        raise ValueError(f"cfg_ramp: must be one of {RAMPS}, got {cfg_ramp!r}")
    samples = latent_samples(latent)
    recorded.check_matches(samples)
    sigmas = recorded.sigmas
    steps = len(sigmas) - 1
    guider = spec.build(recorded_branch=recorded_branch)
    reserve_for_batch(guider, 2 if sampler is sample_cycle_sde else 1)  # Cycle-SDE batches [edited; recorded]
    cfg_scales = guidance_scales(steps, spec.base_cfg) if cfg_ramp != RAMPS[0] else None
    controls = StepControls(guider, Progress(model, steps), cfg_scales=cfg_scales)
    region = mask_for(mask, samples.shape, image_factor(recorded.latent_format))

    def loop(denoiser, x, sigmas, extra_args, disable):
        return sampler(controls.wrap(denoiser), x, sigmas, extra_args=extra_args, disable=disable,
                       trajectory=recorded.trajectory, schedule=recorded.schedule, mask=region,
                       step_kwargs=controls.step_kwargs), None

    return with_samples(latent, run_sampler(guider, samples, sigmas, loop, seed=seed)[0])


class DenoiseAlongRecording(SDEDragNode):
    """What the two denoise nodes share: their inputs, in the order saved workflows hold them (SDE Denoise
    adds the recorded branch's prompts), and their widget check."""
    recorded_branch = False

    @classmethod
    def schema_inputs(cls):
        listed = [inputs.model(), inputs.latent("The (edited) latent at t0."), inputs.trajectory(),
                  inputs.positive(optional=True), inputs.negative(), inputs.cfg(optional=True), inputs.guider(),
                  inputs.mask(),
                  io.Combo.Input("cfg_ramp", options=RAMPS, default=RAMPS[0], optional=True,
                                 tooltip="Guidance per step: constant, or the paper's linear ramp from 1 near the "
                                         "image to cfg at t0 (SDE-Drag).")]
        if cls.recorded_branch:
            listed += [
                io.Conditioning.Input("recorded_positive", optional=True, tooltip=(
                    "Optional prompt for the recorded branch (DiffEdit-SDE: the SOURCE prompt; positive is then the "
                    "target prompt). Without it both branches see positive, and an unedited latent comes back "
                    "unchanged.")),
                io.Conditioning.Input("recorded_negative", optional=True,
                                      tooltip="Negative for the recorded branch (defaults to negative)."),
            ]
        return listed

    @classmethod
    def validate_inputs(cls, cfg=None, cfg_ramp=None):
        return inputs.check_widgets(cls, cfg=cfg, cfg_ramp=cfg_ramp)


class SDEDragCycleDenoise(DenoiseAlongRecording, io.ComfyNode):
    """SDE Denoise (Cycle-SDE): the DDPM sampler driven by the noise recorded by Stochastic Inversion.
    Unedited, it returns the input exactly; edited, it is the paper's SDE edit. Each step evaluates the
    edited and the recorded latent in one batched model call."""
    node_id = "SDEDragCycleDenoise"
    display_name = "SDE Denoise (Cycle-SDE)"
    recorded_branch = True

    @classmethod
    def schema_outputs(cls):
        return [io.Latent.Output(tooltip="The clean edited latent.")]

    @classmethod
    def execute(cls, model, latent, trajectory, positive=None, negative=None, cfg=3.0, guider=None, mask=None,
                cfg_ramp=RAMPS[0], recorded_positive=None, recorded_negative=None):
        if trajectory.method != "sde":
            raise ValueError("trajectory: this recording comes from ODE Inversion; Cycle-SDE needs the "
                             "recording of Stochastic Inversion (or use ODE Denoise)")
        spec = GuidanceSpec(model, guider, positive, negative, cfg, recorded_positive, recorded_negative)
        return io.NodeOutput(denoise_along(model, latent, trajectory, sample_cycle_sde, spec, mask, cfg_ramp,
                                           recorded_branch=True))


class SDEDragODEDenoise(DenoiseAlongRecording, io.ComfyNode):
    """ODE Denoise (DDIM, eta = 0): the deterministic baseline. With a mask, the region outside it is taken
    from the recording after every step."""
    node_id = "SDEDragODEDenoise"
    display_name = "ODE Denoise (DDIM)"

    @classmethod
    def schema_outputs(cls):
        return [io.Latent.Output(tooltip="The clean latent.")]

    @classmethod
    def execute(cls, model, latent, trajectory, positive=None, negative=None, cfg=3.0, guider=None, mask=None,
                cfg_ramp=RAMPS[0]):
        spec = GuidanceSpec(model, guider, positive, negative, cfg)
        return io.NodeOutput(denoise_along(model, latent, trajectory, sample_ode_masked, spec, mask, cfg_ramp))
