"""Denoising along a recording: Cycle-SDE (the paper's SDE) and masked DDIM (the ODE baseline)."""
from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..sde_core import guidance_scales, sample_cycle_sde, sample_ode_masked
from . import inputs
from .base import SDEDragNode
from .guidance import GuidanceSpec
from .model_space import latent_samples, with_samples
from .runner import GuidedRun

RAMPS = ["constant", "linear from 1 (paper)"]


def run_along(model, latent, recorded, spec: GuidanceSpec, mask, cfg_ramp, latents_per_call=1,
              recorded_branch=False) -> GuidedRun:
    """The guided run of a denoiser along `recorded` (a linked `cfg_ramp` is checked here)."""
    if cfg_ramp not in RAMPS:  # a linked value is not seen by validate_inputs
        raise ValueError(f"cfg_ramp: must be one of {RAMPS}, got {cfg_ramp!r}")
    recorded.check_matches(latent_samples(latent))
    steps = len(recorded.sigmas) - 1
    cfg_scales = guidance_scales(steps, spec.base_cfg) if cfg_ramp != RAMPS[0] else None
    return GuidedRun(model, spec, latent, calls=steps, latents_per_call=latents_per_call, cfg_scales=cfg_scales,
                     mask=mask, recorded_branch=recorded_branch)


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
        run = run_along(model, latent, trajectory, spec, mask, cfg_ramp, latents_per_call=2,  # [edited; recorded]
                        recorded_branch=True)
        out = run.sample(sample_cycle_sde, trajectory.sigmas, trajectory=trajectory.trajectory,
                         schedule=trajectory.schedule, mask=run.region, step_kwargs=run.step_kwargs)
        return io.NodeOutput(with_samples(latent, out.samples))


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
        run = run_along(model, latent, trajectory, spec, mask, cfg_ramp)
        out = run.sample(sample_ode_masked, trajectory.sigmas, trajectory=trajectory.trajectory,
                         schedule=trajectory.schedule, mask=run.region, step_kwargs=run.step_kwargs)
        return io.NodeOutput(with_samples(latent, out.samples))
