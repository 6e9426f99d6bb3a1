"""SDE Noise: SDEdit's start, the clean latent noised to t0 in one seeded draw (and the base it shares
with Stochastic Inversion, which noises the same latent step by step)."""
from __future__ import annotations

import torch

from comfy_api.v0_0_2 import io

from ..sde_core import noise_to
from . import inputs
from .base import SDEDragNode
from .limits import check_representable
from .model_space import choose_sigmas, from_model_space, generator_for, latent_samples, schedule_of, with_samples


class NoisesToT0(SDEDragNode):
    """What SDE Noise and Stochastic Inversion share: the clean latent, the schedule to t0 and a seed, the
    widget check, and where both start (the clean latent in sampling space, at checked sigmas)."""

    @classmethod
    def schema_inputs(cls):
        return [inputs.model(), inputs.latent(), inputs.steps(), inputs.t0(), inputs.seed(), inputs.sigmas()]

    @classmethod
    def validate_inputs(cls, t0=None):
        return inputs.check_widgets(cls, t0=t0)

    @staticmethod
    def clean_x0_and_sigmas(model, latent, steps, t0, sigmas):
        """``(x0, sigmas, schedule)``: the clean latent after the model's ``process_latent_in``, the sigmas
        from t0 down to 0 (connected SIGMAS or the paper's) and the model's (a, b)."""
        samples = latent_samples(latent)
        sigmas = choose_sigmas(model, sigmas, steps, t0)
        schedule = schedule_of(model)
        check_representable(schedule, sigmas)
        return model.model.process_latent_in(samples.clone()), sigmas, schedule


class SDEDragNoise(NoisesToT0, io.ComfyNode):
    """Noises the clean latent to t0 in one shot, x = a(t0) x0 + b(t0) eps with seeded eps (SDEdit's start).
    Outputs the noised latent and the sigmas from t0 down to 0, for SDE/ODE denoising or ComfyUI's
    SamplerCustomAdvanced with DisableNoise."""
    node_id = "SDEDragNoise"
    display_name = "SDE Noise (SDEdit start)"

    @classmethod
    def schema_outputs(cls):
        return [io.Latent.Output(display_name="noised_latent",
                                 tooltip="The latent at t0 (ComfyUI's noised-latent convention)."),
                io.Sigmas.Output(display_name="sigmas", tooltip="Sigmas from t0 down to 0.")]

    @classmethod
    def execute(cls, model, latent, steps, t0, seed, sigmas=None):
        x0, sigmas, schedule = cls.clean_x0_and_sigmas(model, latent, steps, t0, sigmas)
        sigma = float(sigmas[0])
        eps = torch.randn(x0.shape, generator=generator_for(seed), dtype=x0.dtype)
        noised = noise_to(schedule, x0, sigma, eps)
        return io.NodeOutput(with_samples(latent, from_model_space(model, noised, sigma)), sigmas)
