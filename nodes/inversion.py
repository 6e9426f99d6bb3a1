"""Inversion nodes: Cycle-SDE recording (no model call) and DDIM inversion (the ODE baseline)."""
from __future__ import annotations

from ..sde_core import ddim_invert, record_forward
from . import inputs
from .common import CATEGORY
from .limits import check_memory, check_representable
from .host import (GuidanceSpec, Progress, StepControls, choose_sigmas, generator_for,
                   latent_samples, run_sampler, schedule_of, with_samples)
from .trajectory import RecordedTrajectory


def _sigma_min(model) -> float:
    return float(model.get_model_object("model_sampling").sigma_min)


class SDEDragStochasticInversion:
    DESCRIPTION = ("Cycle-SDE stochastic inversion: noises the latent step by step up to t0 with fresh seeded "
                   "noise and records every state. SDE Denoise (Cycle-SDE) on the recording gives the input back "
                   "exactly; on an edited latent it performs the paper's SDE edit. Makes no model call.")
    CATEGORY = CATEGORY
    FUNCTION = "invert"
    RETURN_TYPES = ("LATENT", "SDE_TRAJECTORY")
    RETURN_NAMES = ("latent_at_t0", "trajectory")
    OUTPUT_TOOLTIPS = ("The noised latent at t0 (ComfyUI's noised-latent convention; edit it, then denoise).",
                       "The recorded forward trajectory, for SDE Denoise.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": inputs.MODEL, "latent": inputs.LATENT, "steps": inputs.STEPS,
                             "t0": inputs.T0, "seed": inputs.SEED},
                "optional": {"sigmas": inputs.SIGMAS}}

    def invert(self, model, latent, steps, t0, seed, sigmas=None):
        samples = latent_samples(latent)
        sigmas = choose_sigmas(model, sigmas, steps, t0)
        check_memory(samples.shape, len(sigmas) - 1, what="Stochastic Inversion")  # recorded on the CPU
        schedule = schedule_of(model)
        check_representable(schedule, sigmas)
        x0 = model.model.process_latent_in(samples.clone())
        trajectory = record_forward(x0, sigmas, schedule, generator=generator_for(seed))
        recorded = RecordedTrajectory(trajectory, schedule, "sde", model.model.latent_format, _sigma_min(model))
        return (with_samples(latent, recorded.to_user_space(trajectory.latent_at_t0)), recorded)


class SDEDragODEInversion:
    DESCRIPTION = ("DDIM (ODE) inversion up to t0, the baseline the paper compares against. Uses the model "
                   "(one call per step) at guidance 1 unless cfg is set (any cfg but 1 needs a negative).")
    CATEGORY = CATEGORY
    FUNCTION = "invert"
    RETURN_TYPES = ("LATENT", "SDE_TRAJECTORY")
    RETURN_NAMES = ("latent_at_t0", "trajectory")
    OUTPUT_TOOLTIPS = ("The inverted latent at t0.", "Every inversion state, for masked ODE Denoise.")

    @classmethod
    def INPUT_TYPES(cls):
        cfg = ("FLOAT", {**inputs.CFG[1], "default": 1.0})
        return {"required": {"model": inputs.MODEL, "positive": inputs.POSITIVE, "latent": inputs.LATENT,
                             "steps": inputs.STEPS, "t0": inputs.T0},
                "optional": {"negative": inputs.NEGATIVE, "cfg": cfg, "guider": inputs.GUIDER,
                             "sigmas": inputs.SIGMAS}}

    def invert(self, model, positive, latent, steps, t0, negative=None, cfg=1.0, guider=None, sigmas=None):
        samples = latent_samples(latent)
        sigmas = choose_sigmas(model, sigmas, steps, t0)
        check_memory(samples.shape, len(sigmas) - 1, 0, getattr(model, "load_device", None), "ODE Inversion")
        schedule, sigma_min = schedule_of(model), _sigma_min(model)
        check_representable(schedule, sigmas)
        spec = GuidanceSpec(model, guider=guider, positive=positive, negative=negative, cfg=cfg)
        guide = spec.build()
        controls = StepControls(guide, Progress(model, len(sigmas) - 1))
        holder = {}

        def sampler_fn(denoiser, x, sigmas, extra_args=None, callback=None, disable=None):
            clean = x / schedule.a(float(sigmas[0]))  # KSAMPLER scaled the clean latent by a(sigmas[0])
            holder["trajectory"] = ddim_invert(controls.wrap(denoiser), clean, sigmas, extra_args=extra_args,
                                               disable=disable, schedule=schedule, sigma_min=sigma_min)
            return holder["trajectory"].latent_at_t0 / schedule.a(float(sigmas[0]))

        out = run_sampler(guide, samples, sigmas, sampler_fn, seed=0)
        recorded = RecordedTrajectory(holder["trajectory"], schedule, "ode", model.model.latent_format, sigma_min)
        return (with_samples(latent, out.float()), recorded)


NODE_CLASS_MAPPINGS = {"SDEDragStochasticInversion": SDEDragStochasticInversion,
                       "SDEDragODEInversion": SDEDragODEInversion}
NODE_DISPLAY_NAME_MAPPINGS = {"SDEDragStochasticInversion": "Stochastic Inversion (Cycle-SDE)",
                              "SDEDragODEInversion": "ODE Inversion (DDIM)"}
