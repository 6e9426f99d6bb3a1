"""Inversion nodes: Cycle-SDE recording (no model call) and DDIM inversion (the ODE baseline)."""
from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..sde_core import ddim_invert, record_forward
from . import inputs
from .base import SDEDragNode
from .guidance import GuidanceSpec
from .limits import check_memory, check_representable
from .model_space import choose_sigmas, generator_for, latent_samples, schedule_of, with_samples
from .noise import NoisesToT0
from .runner import CLEAN, GuidedRun, to_output
from .trajectory import RecordedTrajectory


def _sigma_min(model) -> float:
    return float(model.get_model_object("model_sampling").sigma_min)


class SDEDragStochasticInversion(NoisesToT0, io.ComfyNode):
    """Cycle-SDE stochastic inversion: noises the latent step by step up to t0 with fresh seeded noise and
    records every state. SDE Denoise (Cycle-SDE) on the recording gives the input back exactly; on an edited
    latent it performs the paper's SDE edit. Makes no model call."""
    node_id = "SDEDragStochasticInversion"
    display_name = "Stochastic Inversion (Cycle-SDE)"
    search_aliases = ("cycle-sde", "invert", "inversion", "sde inversion", "image to noise")

    @classmethod
    def schema_outputs(cls):
        return [io.Latent.Output(display_name="latent_at_t0", tooltip="The noised latent at t0 (ComfyUI's "
                                 "noised-latent convention; edit it, then denoise)."),
                inputs.TrajectoryType.Output(display_name="trajectory",
                                             tooltip="The recorded forward trajectory, for SDE Denoise.")]

    @classmethod
    def execute(cls, model, latent, steps, t0, seed, sigmas=None):
        x0, sigmas, schedule = cls.clean_x0_and_sigmas(model, latent, steps, t0, sigmas)
        check_memory(x0.shape, len(sigmas) - 1, what="Stochastic Inversion")  # recorded on the CPU
        trajectory = record_forward(x0, sigmas, schedule, generator=generator_for(seed))
        recorded = RecordedTrajectory(to_output(trajectory), schedule, "sde", model.model.latent_format,
                                      _sigma_min(model))
        return io.NodeOutput(with_samples(latent, recorded.to_user_space(trajectory.latent_at_t0)), recorded)


class SDEDragODEInversion(SDEDragNode, io.ComfyNode):
    """DDIM (ODE) inversion up to t0, the baseline the paper compares against. Uses the model (one call per
    step) at guidance 1 unless cfg is set (any cfg but 1 needs a negative)."""
    node_id = "SDEDragODEInversion"
    display_name = "ODE Inversion (DDIM)"

    @classmethod
    def schema_inputs(cls):
        return [inputs.model(), inputs.positive(), inputs.latent(), inputs.steps(), inputs.t0(), inputs.negative(),
                inputs.cfg(default=1.0, optional=True), inputs.guider(), inputs.sigmas()]

    @classmethod
    def schema_outputs(cls):
        return [io.Latent.Output(display_name="latent_at_t0", tooltip="The inverted latent at t0."),
                inputs.TrajectoryType.Output(display_name="trajectory",
                                             tooltip="Every inversion state, for masked ODE Denoise.")]

    @classmethod
    def validate_inputs(cls, t0=None, cfg=None):
        return inputs.check_widgets(cls, t0=t0, cfg=cfg)

    @classmethod
    def execute(cls, model, positive, latent, steps, t0, negative=None, cfg=1.0, guider=None, sigmas=None):
        sigmas = choose_sigmas(model, sigmas, steps, t0)
        check_memory(latent_samples(latent).shape, len(sigmas) - 1, 0, getattr(model, "load_device", None),
                     "ODE Inversion", model=model)
        check_representable(schedule_of(model), sigmas)
        spec = GuidanceSpec(model, guider=guider, positive=positive, negative=negative, cfg=cfg)
        run = GuidedRun(model, spec, latent, calls=len(sigmas) - 1)
        out = run.sample(ddim_invert, sigmas, start=CLEAN, schedule=run.schedule, sigma_min=_sigma_min(model))
        recorded = RecordedTrajectory(out.result, run.schedule, "ode", model.model.latent_format, _sigma_min(model))
        return io.NodeOutput(with_samples(latent, out.samples), recorded)
