"""Adapters between ComfyUI's model objects (MODEL, LATENT, SIGMAS) and sde_core's sampling space.

Latent spaces. sde_core works in ComfyUI's sampling space, `x = a(s) x0 + b(s) eps`, after
the model's `process_latent_in`. A LATENT between nodes is in the user space, and a *noised*
one travels as ComfyUI's KSAMPLER leaves it: `process_latent_out(x / a(s))`, i.e.
`inverse_noise_scaling(s, x)` (identity for EPS/V, `x / (1 - s)` for CONST). So every
noised LATENT this pack emits also works in `SamplerCustomAdvanced` with `DisableNoise`.
"""
from __future__ import annotations

import torch

import comfy.model_management
import comfy.samplers

from ..sde_core import FLOW, VP, Schedule, check_latent, check_steps, check_t0, t0_sigmas

PAPER_SCHEDULER = "ddim_uniform"  # DDIM's uniform timesteps 996, 991, ..., 1 at 200 steps

DEFAULT_IMAGE_FACTOR = 8  # SD1.x/SD2/SDXL/SD3/Flux VAEs
# ComfyUI 0.3.75's 2-D latent formats whose VAE does not downscale by 8 (newer ComfyUI states it
# as `spacial_downscale_ratio` on the format itself, which is read first).
IMAGE_FACTORS = {"Flux2": 16, "HunyuanImage21": 32, "ChromaRadiance": 1}


def image_factor(latent_format) -> int:
    """Image pixels per latent cell of a model's latent format: its `spacial_downscale_ratio`
    when it states one (the demo model's: 4), else ComfyUI 0.3.75's known factors, else 8."""
    stated = getattr(latent_format, "spacial_downscale_ratio", None)
    if stated is not None:
        return int(stated)
    return IMAGE_FACTORS.get(type(latent_format).__name__, DEFAULT_IMAGE_FACTOR)


def schedule_of(model) -> Schedule:
    """The family's (a, b), read off ComfyUI's own noise scaling: a = noise_scaling(s, 0, 1)."""
    return schedule_of_sampling(model.get_model_object("model_sampling"))


def schedule_of_sampling(sampling) -> Schedule:
    """`schedule_of` for a bare `model_sampling` object (inside a sampler function)."""
    half = torch.tensor([0.5])
    a = float(sampling.noise_scaling(half, torch.zeros(1, 1), torch.ones(1, 1)).flatten()[0])
    b = float(sampling.noise_scaling(half, torch.ones(1, 1), torch.zeros(1, 1)).flatten()[0])
    if abs(a - 1.0) < 1e-6 and abs(b - 0.5) < 1e-6:
        return VP
    if abs(a - 0.5) < 1e-6 and abs(b - 0.5) < 1e-6:
        return FLOW
    raise ValueError(
        f"model: unsupported noise parameterisation (a(0.5)={a:g}, b(0.5)={b:g}); SDE Drag supports "
        "EPS/V_PREDICTION (x = x0 + s*eps) and CONST/rectified flow (x = (1-s) x0 + s*eps) models"
    )


def paper_sigmas(model, steps: int, t0: float) -> torch.Tensor:
    """The last round(t0 * steps) sigmas of the model's `ddim_uniform` schedule of `steps` steps.

    For EPS/V models t0 is the fraction of the 1000 training timesteps (t0 0.6 at 200 steps
    starts at timestep 596, sigma about 1.6 on SD1.5); for CONST models the same fraction of
    the model's own discrete flow schedule (sigma about 0.6 x shift-adjusted).
    """
    steps, t0 = check_steps(steps), check_t0(t0)
    sampling = model.get_model_object("model_sampling")
    full = comfy.samplers.calculate_sigmas(sampling, PAPER_SCHEDULER, steps).float()
    if len(full) != steps + 1:  # ddim_uniform rounds the spacing; fall back to ComfyUI's "simple"
        full = comfy.samplers.calculate_sigmas(sampling, "simple", steps).float()
    if not bool((full[:-1] > full[1:]).all()):  # more steps than the model has noise levels
        levels = len(torch.unique(full[:-1]))
        raise ValueError(f"steps: {steps} steps repeat noise levels of this model's schedule ({levels} distinct); "
                         f"use steps <= {levels}")
    return t0_sigmas(full, t0)


def choose_sigmas(model, sigmas, steps: int, t0: float) -> torch.Tensor:
    """ComfyUI SIGMAS when connected (any scheduler, already cut at t0), else the paper's."""
    if sigmas is None:
        return paper_sigmas(model, steps, t0)
    sigmas = sigmas.detach().float().cpu().clone()
    if sigmas.ndim != 1 or len(sigmas) < 2 or not torch.isfinite(sigmas).all():
        raise ValueError(f"sigmas: need a 1-D schedule of at least 2 finite values, got shape {tuple(sigmas.shape)}")
    if not bool((sigmas[:-1] > sigmas[1:]).all()):
        raise ValueError("sigmas: must be strictly decreasing (from t0 down to 0), as ComfyUI's schedulers give")
    if float(sigmas[-1]) < 0.0:
        raise ValueError(f"sigmas: must be >= 0, got {float(sigmas[-1]):g} at the end")
    if float(sigmas[-1]) != 0.0:
        # Appending a 0 would run steps the user cut away (SplitSigmas' high half ends above 0).
        raise ValueError(f"sigmas: must end at 0 (the clean image), got {float(sigmas[-1]):g} at the end; connect a "
                         "scheduler's whole output, or the low half of SplitSigmas")
    return sigmas


def latent_samples(latent: dict, name: str = "latent") -> torch.Tensor:
    if not isinstance(latent, dict) or "samples" not in latent:
        raise ValueError(f"{name}: expected a LATENT")
    samples = latent["samples"]
    if getattr(samples, "is_nested", False):
        raise ValueError(f"{name}: nested (multi-shape) latents are not supported; use one image size per batch")
    if samples.ndim != 4:
        raise ValueError(f"{name}: SDE Drag edits image latents [batch, channels, height, width], got shape "
                         f"{tuple(samples.shape)} (video/audio latents are not supported)")
    return check_latent(samples.float())


def with_samples(latent: dict, samples: torch.Tensor) -> dict:
    """Copy-on-write LATENT with new samples on ComfyUI's intermediate device, as its own sampling
    nodes leave them (`comfy/sample.py`). Keeps batch_index, noise_mask etc., as core KSampler's
    `latent.copy()` does: the nodes that edit honour a noise_mask as the editable region, and
    the inversions and the copy-paste carry it on to the denoiser."""
    out = dict(latent)
    out["samples"] = samples.to(comfy.model_management.intermediate_device())
    return out


def from_model_space(model, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Sampling-space x at `sigma` -> user-space LATENT, as KSAMPLER hands it to the next node."""
    return model.model.process_latent_out(x / schedule_of(model).a(float(sigma))).float()


def clean_start(x: torch.Tensor, sigmas, schedule: Schedule) -> torch.Tensor:
    """The clean latent inside a KSAMPLER function: KSAMPLER hands it `a(sigmas[0]) * x0` (it
    scales the clean input latent as it would a noised one), so x0 = x / a(sigmas[0])."""
    return x / schedule.a(float(sigmas[0]))


def generator_for(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
