"""Running the pack's loops inside ComfyUI's guider: progress, cancel, per-step settings.

Model calls go through ComfyUI's own guider (`CFGGuider.sample` with our loop as a
`KSAMPLER`), so LoRAs, ControlNets, hooks and `model_options` wrappers act inside our steps.
"""
from __future__ import annotations

import torch

import comfy.model_management
import comfy.model_patcher
import comfy.patcher_extension
import comfy.samplers
import comfy.utils
import latent_preview


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

    def scaled(executor, model, noise_shape, conds, *args, **kwargs):
        # Whatever else the host passes (0.14+ adds force_full_load/force_offload) goes through as given.
        shape = [int(noise_shape[0]) * latents_per_call, *noise_shape[1:]]
        return executor(model, shape, conds, *args, **kwargs)

    guider.model_options = comfy.model_patcher.create_model_options_clone(guider.model_options)
    comfy.patcher_extension.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.PREPARE_SAMPLING, RESERVE_KEY,
                                                 scaled, guider.model_options, is_model_options=True)


def run_sampler(guider, samples: torch.Tensor, sigmas: torch.Tensor, loop, seed: int):
    """Run `loop(denoiser, x, sigmas, extra_args, disable) -> (x_out, results)` inside ComfyUI's
    guider with zero noise, and return `(latent_out, results)`.

    `loop` receives x = a(sigmas[0]) * process_latent_in(latent) (`model_space.clean_start` undoes
    the scaling where the loop wants the clean latent); `x_out` leaves as
    process_latent_out(inverse_noise_scaling(sigmas[-1], x_out)), a LATENT's samples. A KSAMPLER
    function can only return the latent, so `results` (frames, a recording) are kept here and
    handed back beside it."""
    kept = {}

    def sampler_fn(model, x, sigmas, extra_args=None, callback=None, disable=None):
        x_out, kept["results"] = loop(model, x, sigmas, {} if extra_args is None else extra_args, disable)
        return x_out

    noise = torch.zeros_like(samples)
    out = guider.sample(noise, samples, comfy.samplers.KSAMPLER(sampler_fn), sigmas, denoise_mask=None,
                        callback=None, disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    return out.float(), kept.get("results")
