"""DiffEdit's mask from two prompts (the math is `sde_core.diffedit`).

DiffEdit-ODE = this mask + ODE Inversion (source prompt) + ODE Denoise (target prompt, mask);
DiffEdit-SDE = this mask + Stochastic Inversion + SDE Denoise (Cycle-SDE) with positive = target,
recorded_positive = source and the mask (paper: t0 0.7, cfg 7.5, 50 steps).
"""
from __future__ import annotations

import torch

from comfy_api.v0_0_2 import io

from ..sde_core import diffedit_mask, eps_predictions
from . import inputs
from .base import SDEDragNode
from .guidance import GuidanceSpec
from .model_space import choose_sigmas, generator_for, image_factor, latent_samples
from .runner import GuidedRun

class SDEDragDiffEditMask(SDEDragNode, io.ComfyNode):
    """DiffEdit mask: where the model's noise predictions under the source and the target prompt differ,
    averaged over a few seeded noises at one noise level, normalised to [0, 1], optionally blurred and
    thresholded. Equal prompts give an all-zero mask. Use it as the mask of ODE Denoise (DiffEdit-ODE) or
    SDE Denoise (Cycle-SDE) with recorded_positive = source (DiffEdit-SDE)."""
    node_id = "SDEDragDiffEditMask"
    display_name = "DiffEdit Mask"
    search_aliases = ("diffedit", "auto mask", "edit mask")

    @classmethod
    def schema_inputs(cls):
        return [
            inputs.model(), inputs.latent(),
            io.Conditioning.Input("source", tooltip="Prompt that describes the input image as it is."),
            io.Conditioning.Input("target", tooltip="Prompt that describes the desired edit."),
            io.Float.Input("strength", default=0.5, min=0.01, max=1.0, step=0.01,
                           tooltip="Noise level of the comparison as a fraction of T (DiffEdit: 0.5)."),
            io.Int.Input("noises", default=10, min=1, max=100,
                         tooltip="How many seeded noises the difference is averaged over (DiffEdit: 10)."),
            io.Float.Input("threshold", default=0.5, min=0.0, max=0.99, step=0.01,
                           tooltip="Cells whose normalised difference is above this are edited."),
            io.Float.Input("blur", default=0.0, min=0.0, max=16.0, step=0.1,
                           tooltip="Gaussian blur of the map before the threshold, std in latent cells."),
            inputs.seed(), inputs.negative(), inputs.cfg(default=1.0, optional=True),
        ]

    @classmethod
    def schema_outputs(cls):
        return [io.Mask.Output(display_name="mask", tooltip="Binary mask (1 = edit) at the image's size."),
                io.Mask.Output(display_name="soft_mask", tooltip="The normalised difference map before the "
                                                                 "threshold."),
                io.Image.Output(display_name="preview",
                                tooltip="The soft map as a grey image, for a Preview Image node.")]

    @classmethod
    def validate_inputs(cls, strength=None, threshold=None, blur=None, cfg=None):
        return inputs.check_widgets(cls, strength=strength, threshold=threshold, blur=blur, cfg=cfg)

    @classmethod
    def execute(cls, model, latent, source, target, strength, noises, threshold, blur, seed, negative=None, cfg=1.0):
        sigma = float(choose_sigmas(model, None, 100, strength)[0])
        spec = GuidanceSpec(model, positive=target, negative=negative, cfg=cfg, rec_positive=source,
                            rec_negative=negative)
        run = GuidedRun(model, spec, latent, calls=int(noises), recorded_branch=True)  # batch [target; source]
        x0, eps = seeded_noises(model, latent, int(noises), seed)
        out = run.sample(eps_predictions, torch.tensor([sigma, 0.0]), start=x0, seed=seed, noises=eps,
                         schedule=run.schedule)
        soft, binary = diffedit_mask(out.result.source, out.result.target, float(threshold), float(blur))
        soft, binary = within(run.region, soft), within(run.region, binary)
        soft, binary = to_image_size(model, soft), to_image_size(model, binary)
        return io.NodeOutput(binary, soft, soft[..., None].repeat(1, 1, 1, 3))


def seeded_noises(model, latent, noises: int, seed: int):
    """The clean latent in sampling space and `noises` seeded standard normal draws shaped like it."""
    x0 = model.model.process_latent_in(latent_samples(latent).clone())
    generator = generator_for(seed)
    return x0, [torch.randn(x0.shape, generator=generator, dtype=x0.dtype) for _ in range(noises)]


def within(region, m: torch.Tensor) -> torch.Tensor:
    """A [B, h, w] map limited to the LATENT's noise_mask (1 = editable), when it has one: outside
    it the edit is not allowed, so the mask is 0 there."""
    return m if region is None else m * region[:, 0].to(m)


def to_image_size(model, m: torch.Tensor) -> torch.Tensor:
    """A [B, h, w] latent-size map -> the image's size (a MASK), each cell repeated f x f times."""
    factor = image_factor(model.model.latent_format)
    return m.repeat_interleave(factor, -1).repeat_interleave(factor, -2)
