"""Dragging nodes: one latent copy-paste (composable) and the all-in-one multi-step SDE Drag."""
from __future__ import annotations

import logging

import torch

from ..sde_core import copy_paste, guidance_scales, lora_scales, plan_subdrags, sde_drag
from . import inputs
from .common import CATEGORY
from .limits import check_memory, check_representable
from .lora_train import find_identity_lora, lora_ramp_sigmas, with_identity_lora
from .host import (GuidanceSpec, Progress, StepControls, choose_sigmas, generator_for, image_factor, latent_samples,
                   mask_for, run_sampler, schedule_of, with_samples)

def downscale_factor(latent_format, points, latent_width: int) -> float:
    """Image pixels per latent cell: from the size the points were picked on when known, else
    the latent format's own factor (`host.image_factor`: 8 for the common VAEs)."""
    if points.width is not None:
        return points.width / latent_width
    return float(image_factor(latent_format))


def points_in_cells(drag_points, samples: torch.Tensor, latent_format):
    """DRAG_POINTS (image pixels) -> (sources, targets) [P, 2] whole latent cells (float64).

    Pixels are rounded down to the cell they fall in, floor(p / factor), before any planning,
    as the authors' code does: (200, 200) -> (263, 263) px at factor 8 is (25, 25) -> (32, 32)."""
    height, width = samples.shape[-2:]
    factor = downscale_factor(latent_format, drag_points, width)
    image_w, image_h = round(width * factor), round(height * factor)
    points = drag_points.scaled_to(image_w, image_h) if drag_points.width is not None else drag_points
    points.check_inside(image_w, image_h)
    if not points.pairs:
        raise ValueError("drag_points: the point list is empty; add at least one source -> target pair")
    pairs = torch.floor(torch.tensor(points.pairs, dtype=torch.float64) / factor)
    return pairs[:, 0], pairs[:, 1]


DRAG_KNOBS = {
    "r": ("INT", {"default": 5, "min": 1, "max": 64, "tooltip": "Half-size of the copied square, in latent cells "
                                                              "(paper: 5 on SD's 64x64 latents; 2 on the demo model)."}),
    "alpha": ("FLOAT", {"default": 1.1, "min": 0.0, "max": 3.0, "step": 0.01,
                        "tooltip": "Gain on the pasted patch at the target (paper: 1.1)."}),
    "beta": ("FLOAT", {"default": 0.3, "min": 0.0, "max": 1.0, "step": 0.01,
                       "tooltip": "Source refill: beta * old + sqrt(1 - beta^2) * noise (paper: 0.3)."}),
}


def plan_text(n_subdrags: int, n_steps: int, method: str) -> str:
    """What a drag will cost, said before its first model call: SDE-Drag makes one (batched)
    call per step; ODE-Drag two (DDIM inversion, then denoising)."""
    if method == "ode":
        return (f"{n_subdrags} sub-drags x {n_steps} steps x 2 (inversion + denoising) = "
                f"{n_subdrags * n_steps * 2} model calls")
    return f"{n_subdrags} sub-drags x {n_steps} steps = {n_subdrags * n_steps} model calls"


class SDEDragCopyPaste:
    DESCRIPTION = ("Latent copy-paste at t0 (one SDE-Drag edit): clones the square around each source point, "
                   "refills the source with beta * old + sqrt(1 - beta^2) * noise and writes alpha * clone at the "
                   "target. Feed it the latent from an inversion node, then denoise along the same trajectory.")
    CATEGORY = CATEGORY
    FUNCTION = "paste"
    RETURN_TYPES = ("LATENT",)
    RETURN_NAMES = ("edited_latent",)
    OUTPUT_TOOLTIPS = ("The edited latent at t0.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"latent": ("LATENT", {"tooltip": "The latent at t0 from an inversion node."}),
                             "trajectory": inputs.TRAJECTORY, "drag_points": inputs.DRAG_POINTS,
                             **DRAG_KNOBS, "seed": inputs.SEED}}

    def paste(self, latent, trajectory, drag_points, r, alpha, beta, seed):
        samples = latent_samples(latent)
        trajectory.check_matches(samples)
        sources, targets = points_in_cells(drag_points, samples, trajectory.latent_format)
        x = trajectory.to_sampling_space(samples)
        generator = generator_for(seed)
        noise = lambda shape: torch.randn(shape, generator=generator, dtype=x.dtype)  # noqa: E731  (fresh per pair)
        scale = trajectory.schedule.vp_scale(trajectory.sigma_t0)
        edited = copy_paste(x, sources, targets, r, alpha, beta, noise, scale)
        return (with_samples(latent, trajectory.to_user_space(edited)),)


LORA_SCALE_MIN = ("FLOAT", {
    "default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01,
    "tooltip": "Only when the MODEL carries an identity LoRA (Identity LoRA node): its scale at t0; it rises with a "
               "cosine to 1 near the image (paper: 0.5). 1 keeps the LoRA at full strength throughout."})


def lora_ramp(model, guider, sigmas, lora_scale_min):
    """The paper's LoRA-scale ramp, when `model` carries an identity LoRA: a clone of `model`
    with its own copy of the LoRA, and a StepControls setter giving it the scale
    `lora_scales(n, lora_scale_min)[step]` before each numbered step's model call. The edited
    and the recorded latent share that call, so they see the same scale. Calls without a step
    (ODE-Drag's DDIM inversion) take the scale of the step evaluated at the nearest sigma, so
    the inversion and the denoising see the same LoRA at the same noise level."""
    lora = find_identity_lora(model)
    if lora is None:
        return model, []
    if guider is not None:
        raise ValueError("lora_scale_min: with a GUIDER the LoRA ramp cannot reach the guider's model; disconnect "
                         "the GUIDER (use positive/negative/cfg) to drag with an identity LoRA")
    scales = lora_scales(len(sigmas) - 1, lora_scale_min)
    ramped = lora.with_scale(None, lora_ramp_sigmas(sigmas, scales))
    model = with_identity_lora(model, ramped)

    def set_lora_scale(step):
        ramped.scale = None if step is None else scales[step]

    return model, [set_lora_scale]


class SDEDragAllInOne:
    DESCRIPTION = ("SDE-Drag (Nie et al., ICLR 2024): drags image content from source to target points in small "
                   "sub-drags; each sub-drag inverts the current latent to t0 (Cycle-SDE), copy-pastes the patches "
                   "and denoises with the recorded noise, keeping the region outside the mask. method 'ode' runs the "
                   "ODE-Drag baseline (DDIM inversion and DDIM). cfg ramps linearly from 1 near the image to cfg at t0. "
                   "When the MODEL carries an identity LoRA (Identity LoRA node), its scale ramps with a cosine from "
                   "lora_scale_min at t0 to 1 near the image.")
    CATEGORY = CATEGORY
    FUNCTION = "drag"
    RETURN_TYPES = ("LATENT", "LATENT")
    RETURN_NAMES = ("latent", "frames")
    OUTPUT_TOOLTIPS = ("The dragged latent.",
                       "The latent after every sub-drag (sub-drag-major batch): decode and save as an animation.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": inputs.MODEL, "positive": inputs.POSITIVE, "latent": inputs.LATENT,
                "drag_points": inputs.DRAG_POINTS,
                "method": (["sde", "ode"], {"default": "sde", "tooltip": "sde: SDE-Drag; ode: the ODE-Drag baseline."}),
                "steps": inputs.STEPS, "t0": inputs.T0, "cfg": inputs.CFG,
                "step_size": ("INT", {"default": 2, "min": 1, "max": 64, "tooltip": "Latent cells moved per sub-drag "
                                      "(paper: 2). Smaller is slower and gentler."}),
                **DRAG_KNOBS, "seed": inputs.SEED,
            },
            "optional": {"negative": inputs.NEGATIVE, "mask": inputs.MASK, "guider": inputs.GUIDER,
                         "sigmas": inputs.SIGMAS, "lora_scale_min": LORA_SCALE_MIN},
        }

    def drag(self, model, positive, latent, drag_points, method, steps, t0, cfg, step_size, r, alpha, beta, seed,
             negative=None, mask=None, guider=None, sigmas=None, lora_scale_min=0.5):
        samples = latent_samples(latent)
        latent_format = model.model.latent_format
        sources, targets = points_in_cells(drag_points, samples, latent_format)
        sigmas = choose_sigmas(model, sigmas, steps, t0)
        schedule = schedule_of(model)
        n_steps = len(sigmas) - 1
        n_subdrags = len(plan_subdrags(sources, targets, step_size))
        calls_per_subdrag = n_steps * (2 if method == "ode" else 1)
        logging.info("SDE Drag plan: %s", plan_text(n_subdrags, n_steps, method))  # before any model call
        check_memory(samples.shape, n_steps, n_subdrags, getattr(model, "load_device", None), "SDE Drag",
                     downscale_factor(latent_format, drag_points, samples.shape[-1]))  # before any heavy work
        check_representable(schedule, sigmas)
        model, setters = lora_ramp(model, guider, sigmas, lora_scale_min)
        spec = GuidanceSpec(model, guider=guider, positive=positive, negative=negative, cfg=cfg)
        guide = spec.build()
        controls = StepControls(guide, Progress(model, n_subdrags * calls_per_subdrag),
                                cfg_scales=guidance_scales(n_steps, spec.base_cfg), setters=setters)
        region = mask_for(mask, samples.shape, image_factor(latent_format))
        sigma_min = float(model.get_model_object("model_sampling").sigma_min)
        holder = {}

        def sampler_fn(denoiser, x, sigmas, extra_args=None, callback=None, disable=None):
            clean = x / schedule.a(float(sigmas[0]))  # KSAMPLER scaled the clean latent by a(sigmas[0])
            final, frames = sde_drag(
                controls.wrap(denoiser), clean, sources, targets, sigmas, schedule=schedule, r=r, alpha=alpha,
                beta=beta, step_size=step_size, mask=region, generator=generator_for(seed), method=method,
                sigma_min=sigma_min, extra_args=extra_args, step_kwargs=controls.step_kwargs, disable=disable)
            holder["frames"] = frames
            return final

        final = run_sampler(guide, samples, sigmas, sampler_fn, seed=seed).float()
        frames = torch.cat([model.model.process_latent_out(f.float()) for f in holder.pop("frames")])
        return (with_samples(latent, final), {"samples": frames})


NODE_CLASS_MAPPINGS = {"SDEDragCopyPaste": SDEDragCopyPaste, "SDEDragAllInOne": SDEDragAllInOne}
NODE_DISPLAY_NAME_MAPPINGS = {"SDEDragCopyPaste": "Latent Copy-Paste Drag", "SDEDragAllInOne": "SDE Drag"}
