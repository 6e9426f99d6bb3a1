"""Running the pack's loops inside ComfyUI's guider: progress, cancel, per-step settings.

Model calls go through ComfyUI's own guider (`CFGGuider.sample` with our loop as a
`KSAMPLER`), so LoRAs, ControlNets, hooks and `model_options` wrappers act inside our steps.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

import comfy.model_management
import comfy.model_patcher
import comfy.patcher_extension
import comfy.samplers
import comfy.utils
import latent_preview

from ..sde_core import Trajectory
from .masks import mask_for
from .model_space import clean_start, image_factor, latent_samples, schedule_of


class Progress:
    """ComfyUI's progress bar (with latent previews) over a known number of model calls;
    prompt cancellation is checked before every model call, so at most the call in flight
    finishes after the user presses Cancel."""

    def __init__(self, model, total: int):
        self.total = max(int(total), 1)
        self.done = 0
        self.preview = latent_preview.prepare_callback(model, self.total)

    def before_call(self):
        comfy.model_management.throw_exception_if_processing_interrupted()

    def after_call(self, x, denoised):
        self.done = min(self.done + 1, self.total)
        self.preview(self.done - 1, denoised[:1], x[:1], self.total)


class StepControls:
    """Wraps the guider's denoiser: per-step settings applied just before each model call
    (the guidance scale on our copy of the guider, and `setters` such as a LoRA scale),
    progress and cancellation. With `cfg_scales`, a call without a step index (ODE-Drag's DDIM
    inversion) runs at guidance 1: the inversion is unguided, as in the paper's baseline."""

    def __init__(self, guider, progress: Progress, cfg_scales=None, setters=()):
        self.guider, self.progress = guider, progress
        self.cfg_scales, self.setters = cfg_scales, list(setters)

    def step_kwargs(self, i: int) -> dict:
        return {"step": i}

    def wrap(self, model):
        def denoiser(x, sigma, step=None, **extra):
            self.progress.before_call()
            if self.cfg_scales is not None and hasattr(self.guider, "cfg"):
                self.guider.cfg = float(self.cfg_scales[step] if step is not None else 1.0)
            for setter in self.setters:
                setter(step)
            denoised = model(x, sigma, **extra)
            self.progress.after_call(x, denoised)
            return denoised

        return denoiser


RESERVE_KEY = "sde_drag_batch_reservation"


def reserve_for_batch(guider, latents_per_call: int) -> None:
    """Make ComfyUI reserve memory for the batch our loop really sends: ComfyUI sizes the
    activations it frees room for from the LATENT's batch (`sampler_helpers.estimate_memory`:
    `memory_required([2 * batch, ...])`), but SDE-Drag's step sends the edited and the recorded
    latent together, `latents_per_call` times that batch. A PREPARE_SAMPLING wrapper on the
    guider's own copy of the model options scales the batch ComfyUI estimates with; the
    user's MODEL and GUIDER are not changed (the guider is the pack's copy)."""
    if latents_per_call <= 1:
        return
    guider.model_options = comfy.model_patcher.create_model_options_clone(guider.model_options)
    comfy.patcher_extension.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.PREPARE_SAMPLING, RESERVE_KEY,
                                                 batch_reserving_wrapper(latents_per_call), guider.model_options,
                                                 is_model_options=True)


def batch_reserving_wrapper(latents_per_call: int):
    """The PREPARE_SAMPLING wrapper: noise_shape[0] -> latents_per_call * noise_shape[0]."""

    def scaled(executor, model, noise_shape, conds, *args, **kwargs):
        # Whatever else the host passes (0.14+ adds force_full_load/force_offload) goes through as given.
        shape = [int(noise_shape[0]) * latents_per_call, *noise_shape[1:]]
        return executor(model, shape, conds, *args, **kwargs)

    return scaled


NOISED, CLEAN = "noised", "clean"


def output_device() -> torch.device:
    """Where every tensor the pack returns lives: ComfyUI's intermediate device, as its own
    sampling nodes leave their results (`comfy/sample.py`); the CPU unless --gpu-only."""
    return comfy.model_management.intermediate_device()


def to_output(value):
    """`value` (a tensor, or a typed core result with `.to`) on `output_device()`."""
    return value.to(output_device()) if hasattr(value, "to") else value


@dataclass
class Guided:
    """What one guided run gives back: the LATENT's `samples` (user space) and the sde_core
    function's own typed `result` (a DragResult, Trajectory, EpsPredictions or the latent), both
    on ComfyUI's intermediate device."""

    samples: torch.Tensor
    result: object


class GuidedRun:
    """One run of an sde_core sampler inside ComfyUI's guider (`CFGGuider.sample` with the
    sampler as a `KSAMPLER`), so LoRAs, ControlNets, hooks and `model_options` wrappers act inside
    every step. It owns what every node shares: the guider (the pack's copy, from `spec`), the
    memory reservation for `latents_per_call` latents per call, the progress bar over `calls`
    model calls with cancel and per-step settings (`cfg_scales`, `setters`), the editable region
    (`mask` if connected, else the LATENT's own `noise_mask`, as ComfyUI's KSampler honours it;
    1 = editable) and the results' device."""

    def __init__(self, model, spec, latent: dict, *, calls: int, latents_per_call: int = 1, cfg_scales=None,
                 setters=(), mask=None, recorded_branch: bool = False):
        self.model, self.latent = model, latent
        self.samples = latent_samples(latent)
        self.schedule = schedule_of(model)
        self.guider = spec.build(recorded_branch=recorded_branch)
        reserve_for_batch(self.guider, latents_per_call)
        self.controls = StepControls(self.guider, Progress(model, calls), cfg_scales=cfg_scales, setters=setters)
        self.step_kwargs = self.controls.step_kwargs
        self.region = editable_region(model, latent, self.samples.shape, mask)

    def sample(self, core, sigmas, *, start=NOISED, seed: int = 0, **kwargs) -> Guided:
        """Run the k-diffusion-shaped sde_core function `core(model, x, sigmas, extra_args=...,
        disable=..., **kwargs)` inside the guider.

        `x` is the LATENT in sampling space at `sigmas[0]` (`start=NOISED`: ComfyUI's noised
        convention, `a(sigmas[0]) * process_latent_in(samples)`), the clean latent
        (`start=CLEAN`: that divided by a(sigmas[0])), or a start tensor the node computed. The
        LATENT out is the core's latent (a tensor, or its result's `.latent`) through
        process_latent_out(inverse_noise_scaling(sigmas[-1], .)); a Trajectory (an inversion)
        leaves as its latent at t0 in the noised convention, x / a(sigmas[0])."""
        kept = {}
        sampler_fn = self.sampler_function(core, start, kept, **kwargs)
        noise = torch.zeros_like(self.samples)
        out = self.guider.sample(noise, self.samples, comfy.samplers.KSAMPLER(sampler_fn), sigmas, denoise_mask=None,
                                 callback=None, disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
        return Guided(to_output(out.float()), to_output(kept.get("result")))

    def sampler_function(self, core, start, kept: dict, **kwargs):
        """The function KSAMPLER calls, `(model, x, sigmas, extra_args=, callback=, disable=)`:
        `core` on the start of `start`'s kind; the core's own result goes into `kept`."""

        def sampler_fn(model, x, sigmas, extra_args=None, callback=None, disable=None):
            if start is CLEAN:
                x = clean_start(x, sigmas, self.schedule)
            elif isinstance(start, torch.Tensor):
                x = start.to(x)
            kept["result"] = result = core(self.controls.wrap(model), x, sigmas,
                                           extra_args={} if extra_args is None else extra_args, disable=disable,
                                           **kwargs)
            if isinstance(result, Trajectory):
                return result.latent_at_t0 / self.schedule.a(float(sigmas[0]))
            latent = getattr(result, "latent", result)
            return latent if isinstance(latent, torch.Tensor) else x

        return sampler_fn


def editable_region(model, latent: dict, shape, mask=None):
    """The editable region at latent size (1 = edit): the node's MASK when connected, else the
    LATENT's own `noise_mask` (Set Latent Noise Mask, VAE Encode for Inpainting), else None."""
    factor = image_factor(model.model.latent_format)
    if mask is not None:
        return mask_for(mask, shape, factor)
    return mask_for(latent.get("noise_mask"), shape, factor, name="latent (its noise_mask)")
