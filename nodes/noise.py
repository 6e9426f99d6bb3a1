"""SDE Noise: SDEdit's start, the clean latent noised to t0 in one seeded draw."""
from __future__ import annotations

import torch

from ..sde_core import noise_to
from . import inputs
from .common import CATEGORY
from .limits import check_representable
from .host import choose_sigmas, from_model_space, generator_for, latent_samples, schedule_of, with_samples


class SDEDragNoise:
    DESCRIPTION = ("Noises the clean latent to t0 in one shot, x = a(t0) x0 + b(t0) eps with seeded eps (SDEdit's "
                   "start). Outputs the noised latent and the sigmas from t0 down to 0, for SDE/ODE denoising or "
                   "ComfyUI's SamplerCustomAdvanced with DisableNoise.")
    CATEGORY = CATEGORY
    FUNCTION = "noise"
    RETURN_TYPES = ("LATENT", "SIGMAS")
    RETURN_NAMES = ("noised_latent", "sigmas")
    OUTPUT_TOOLTIPS = ("The latent at t0 (ComfyUI's noised-latent convention).", "Sigmas from t0 down to 0.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": inputs.MODEL, "latent": inputs.LATENT, "steps": inputs.STEPS,
                             "t0": inputs.T0, "seed": inputs.SEED},
                "optional": {"sigmas": inputs.SIGMAS}}

    def noise(self, model, latent, steps, t0, seed, sigmas=None):
        samples = latent_samples(latent)
        sigmas = choose_sigmas(model, sigmas, steps, t0)
        check_representable(schedule_of(model), sigmas)
        sigma = float(sigmas[0])
        x0 = model.model.process_latent_in(samples.clone())
        eps = torch.randn(x0.shape, generator=generator_for(seed), dtype=x0.dtype)
        noised = noise_to(schedule_of(model), x0, sigma, eps)
        return (with_samples(latent, from_model_space(model, noised, sigma)), sigmas)


NODE_CLASS_MAPPINGS = {"SDEDragNoise": SDEDragNoise}
NODE_DISPLAY_NAME_MAPPINGS = {"SDEDragNoise": "SDE Noise (SDEdit start)"}
