"""SDE/ODE image-to-image (SDEdit) and inpainting with fresh seeded noise (no recording).

The clean latent is noised to t0 in one draw, `x = a(t0) x0 + b(t0) eps`, then denoised with
DDIM's eta (1 = SDE/DDPM, 0 = ODE/DDIM) over the same sigmas. The start depends only on the
seed, never on eta, so SDE and ODE runs with one seed differ only in the sampler. With a mask
(or the LATENT's own `noise_mask`), after every step the region outside the mask is the
original latent noised to that step's level with the same `eps` (ComfyUI's noise-mask
convention); the last step (to sigma 0) leaves it equal to the original.
"""
from __future__ import annotations

import torch
from comfy_api.v0_0_2 import io

from ..sde_core import KnownRegion, noise_to, sample_eta
from . import inputs
from .base import SDEDragNode
from .guidance import GuidanceSpec
from .model_space import choose_sigmas, from_model_space, generator_for, latent_samples, schedule_of, with_samples
from .runner import GuidedRun
from .sampler import eta_input


def _start_out(model, x, sigma: float) -> torch.Tensor:
    """The noised start as a LATENT (ComfyUI's convention x / a(sigma)); at a(sigma) = 0 (a flow model at
    sigma 1, pure noise) that convention is undefined and the noise itself is returned."""
    if schedule_of(model).a(sigma) > 0:
        return from_model_space(model, x, sigma)
    return model.model.process_latent_out(x.clone()).float()


def noised_start(model, latent, sigmas, seed):
    """`(x0, eps, start, generator)`: the clean latent in sampling space, the seed's eps and
    start = noise_to(x0, sigmas[0], eps); the generator goes on to draw the sampler's noise."""
    x0 = model.model.process_latent_in(latent_samples(latent).clone())
    generator = generator_for(seed)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    return x0, eps, noise_to(schedule_of(model), x0, float(sigmas[0]), eps), generator


def step_noise(generator, like):
    """The sampler's noise: continues the seed's generator after eps, one draw per step."""
    return lambda sigma, sigma_next: torch.randn(like.shape, generator=generator, dtype=like.dtype).to(like.device)


class SDEDragFreshDenoise(SDEDragNode, io.ComfyNode):
    """SDE/ODE image-to-image (SDEdit) and inpainting: noises the latent to t0 with fresh seeded noise, then
    denoises with DDIM's eta (1 = SDE, 0 = ODE). The same seed gives the same noised start for any eta, so an
    SDE and an ODE run differ only in the sampler. With a mask (or the latent's noise_mask) it inpaints:
    outside the mask the input is kept. t0 = 1 starts from pure noise."""
    node_id = "SDEDragFreshDenoise"
    display_name = "SDE/ODE Img2Img & Inpaint (fresh noise)"
    search_aliases = ("img2img", "image to image", "inpaint", "inpainting", "sdedit")

    @classmethod
    def schema_inputs(cls):
        return [
            inputs.model(),
            inputs.latent("The clean input latent (e.g. from VAE Encode); for inpainting, the original image's "
                          "latent."),
            eta_input(), inputs.steps(),
            inputs.t0("How far the input is noised (0 < t0 <= 1): small keeps the image, 1 starts from (almost) "
                      "pure noise, e.g. full inpainting. Ignored when SIGMAS are connected."),
            inputs.seed(),
            inputs.positive(optional=True), inputs.negative(), inputs.cfg(optional=True), inputs.guider(),
            inputs.mask("Optional inpainting mask (1 = generate, 0 = keep). Outside it every step takes the input "
                        "latent noised to that step's level, so the final latent equals the input there. Without "
                        "it the LATENT's own noise_mask (Set Latent Noise Mask) is used, if any (the same sizes "
                        "apply to it). " + inputs.MASK_SIZE),
            inputs.sigmas(),
        ]

    @classmethod
    def schema_outputs(cls):
        return [io.Latent.Output(display_name="latent", tooltip="The clean result."),
                io.Latent.Output(display_name="noised_start",
                                 tooltip="The noised latent the denoising started from (at t0).")]

    @classmethod
    def validate_inputs(cls, eta=None, t0=None, cfg=None):
        return inputs.check_widgets(cls, eta=eta, t0=t0, cfg=cfg)

    @classmethod
    def execute(cls, model, latent, eta, steps, t0, seed, positive=None, negative=None, cfg=3.0, guider=None,
                mask=None, sigmas=None):
        if not 0.0 <= float(eta) <= 1.0:  # a linked eta is not seen by validate_inputs
            raise ValueError(f"eta: must be in [0, 1] (1 = SDE, 0 = ODE), got {eta}")
        sigmas = choose_sigmas(model, sigmas, steps, t0)
        spec = GuidanceSpec(model, guider, positive, negative, cfg)
        run = GuidedRun(model, spec, latent, calls=len(sigmas) - 1, mask=mask)
        x0, eps, start, generator = noised_start(model, latent, sigmas, seed)
        known = None if run.region is None else KnownRegion(x0, run.region, eps)
        out = run.sample(sample_eta, sigmas, start=start, seed=seed, eta=float(eta), schedule=run.schedule,
                         noise_sampler=step_noise(generator, start), known=known)
        return io.NodeOutput(with_samples(latent, out.samples),
                             with_samples(latent, _start_out(model, start, float(sigmas[0]))))
