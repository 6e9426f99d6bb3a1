"""DiffEdit's mask from two prompts (the math is `sde_core.diffedit`).

DiffEdit-ODE = this mask + ODE Inversion (source prompt) + ODE Denoise (target prompt, mask);
DiffEdit-SDE = this mask + Stochastic Inversion + SDE Denoise (Cycle-SDE) with positive = target,
recorded_positive = source and the mask (paper: t0 0.7, cfg 7.5, 50 steps).
"""
from __future__ import annotations

import torch

from comfy_api.v0_0_2 import io

from ..sde_core import noise_to
from ..sde_core.diffedit import diffedit_mask
from . import inputs
from .base import SDEDragNode
from .guidance import GuidanceSpec
from .model_space import choose_sigmas, generator_for, image_factor, latent_samples, schedule_of
from .runner import Progress, StepControls, run_sampler

def noise_predictions(model, latent, spec: GuidanceSpec, sigma: float, noises: int, seed: int):
    """``(eps_source, eps_target)`` ``[noises, B, C, h, w]``: for each seeded noise the latent
    noised to ``sigma`` is read under both prompts in one batched call ([target; source])."""
    samples = latent_samples(latent)
    schedule = schedule_of(model)
    guider = spec.build(recorded_branch=True)
    controls = StepControls(guider, Progress(model, noises))
    x0 = model.model.process_latent_in(samples.clone())
    generator = generator_for(seed)
    eps = [torch.randn(x0.shape, generator=generator, dtype=x0.dtype) for _ in range(noises)]

    def loop(denoiser, x, sigmas, extra_args, disable):
        model_fn = controls.wrap(denoiser)
        a, b = schedule.a(sigma), schedule.b(sigma)
        source, target = [], []
        for e in eps:
            xt = noise_to(schedule, x0.to(x), sigma, e.to(x))
            both = torch.cat([xt, xt])
            denoised = model_fn(both, torch.full((both.shape[0],), sigma, dtype=x.dtype, device=x.device),
                                **extra_args)
            pred = ((both - a * denoised) / b).float().cpu()
            target.append(pred[: xt.shape[0]])
            source.append(pred[xt.shape[0]:])
        return x, (torch.stack(source), torch.stack(target))

    return run_sampler(guider, samples, torch.tensor([sigma, 0.0]), loop, seed=seed)[1]


class SDEDragDiffEditMask(SDEDragNode, io.ComfyNode):
    """DiffEdit mask: where the model's noise predictions under the source and the target prompt differ,
    averaged over a few seeded noises at one noise level, normalised to [0, 1], optionally blurred and
    thresholded. Equal prompts give an all-zero mask. Use it as the mask of ODE Denoise (DiffEdit-ODE) or
    SDE Denoise (Cycle-SDE) with recorded_positive = source (DiffEdit-SDE)."""
    node_id = "SDEDragDiffEditMask"
    display_name = "DiffEdit Mask"

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
        eps_source, eps_target = noise_predictions(model, latent, spec, sigma, int(noises), seed)
        soft, binary = diffedit_mask(eps_source, eps_target, threshold=float(threshold), blur=float(blur))
        factor = image_factor(model.model.latent_format)  # the MASK has the image's size
        up = lambda m: m.repeat_interleave(factor, -1).repeat_interleave(factor, -2)  # noqa: E731
        soft, binary = up(soft), up(binary)
        preview = soft[..., None].repeat(1, 1, 1, 3)
        return io.NodeOutput(binary, soft, preview)
