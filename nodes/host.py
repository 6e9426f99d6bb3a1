"""Adapters between ComfyUI's objects (MODEL, GUIDER, LATENT, MASK, SIGMAS) and sde_core.

Latent spaces. sde_core works in ComfyUI's sampling space, `x = a(s) x0 + b(s) eps`, after
the model's `process_latent_in`. A LATENT between nodes is in the user space, and a *noised*
one travels as ComfyUI's KSAMPLER leaves it: `process_latent_out(x / a(s))`, i.e.
`inverse_noise_scaling(s, x)` (identity for EPS/V, `x / (1 - s)` for CONST). So every
noised LATENT this pack emits also works in `SamplerCustomAdvanced` with `DisableNoise`.

Model calls go through ComfyUI's own guider (`CFGGuider.sample` with our sampler function as
a `KSAMPLER`), so LoRAs, ControlNets, hooks and `model_options` wrappers act inside our steps.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

import comfy.model_management
import comfy.samplers
import comfy.utils
import latent_preview

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
        sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
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
    """Copy-on-write LATENT with new samples (keeps batch_index etc.; drops a stale noise_mask)."""
    out = {k: v for k, v in latent.items() if k != "noise_mask"}
    out["samples"] = samples
    return out


def to_model_space(model, samples: torch.Tensor, sigma: float) -> torch.Tensor:
    """User-space LATENT (noised at `sigma`, by ComfyUI's convention) -> sampling-space x."""
    inner = model.model
    x = inner.process_latent_in(samples.clone())
    return schedule_of(model).a(float(sigma)) * x


def from_model_space(model, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Sampling-space x at `sigma` -> user-space LATENT, as KSAMPLER hands it to the next node."""
    return model.model.process_latent_out(x / schedule_of(model).a(float(sigma))).float()


def mask_sizes(h: int, w: int, factor: int) -> str:
    """The MASK sizes a latent of h x w cells accepts, in words (for errors and docs)."""
    image = f"{w * factor}x{h * factor}"
    if factor == 1:
        return f"the image's size {image}"
    return (f"the image's size {image} (or up to {factor - 1} px more per side, which VAE Encode crops away) "
            f"or the latent's size {w}x{h}")


def mask_for(mask, latent_shape, factor: int, name: str = "mask") -> torch.Tensor | None:
    """ComfyUI MASK [B?, H, W] -> [B or 1, 1, h, w] at latent size (1 = editable).

    Accepted sizes, nothing else: the latent's (h, w); the image's (h * f, w * f) with `f` the
    model's latent-to-image factor, averaged over each f x f block; an image that is up to f - 1
    px larger, which VAE Encode centre-crops to (h * f, w * f) (ComfyUI's
    `vae_encode_crop_pixels`), so the mask is cropped the same way first.
    """
    if mask is None:
        return None
    m = mask.detach().float()
    if m.ndim == 2:
        m = m[None]
    if m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.ndim != 3:
        raise ValueError(f"{name}: expected a MASK of shape [H, W] or [B, H, W], got {tuple(mask.shape)}")
    if not torch.isfinite(m).all():
        raise ValueError(f"{name}: contains NaN or inf; a MASK holds values in [0, 1]")
    b, h, w = latent_shape[0], latent_shape[-2], latent_shape[-1]
    if m.shape[0] not in (1, b):
        raise ValueError(f"{name}: batch of {m.shape[0]} masks for a latent batch of {b}; give 1 mask or {b}")
    mh, mw = m.shape[-2:]
    f = int(factor)
    if (mh, mw) != (h, w):
        if mh // f != h or mw // f != w:
            raise ValueError(f"{name}: size {mw}x{mh} does not fit this latent ({w}x{h} cells, a {w * f}x{h * f} "
                             f"image at this model's factor {f}); give a mask of {mask_sizes(h, w, f)}")
        top, left = (mh % f) // 2, (mw % f) // 2
        m = m[..., top:top + h * f, left:left + w * f]
        if f > 1:
            m = torch.nn.functional.avg_pool2d(m[:, None], f)[:, 0]
    return m.clamp(0, 1)[:, None]


def is_guidance_distilled(model) -> bool:
    """A model that takes its guidance scale as an input (Flux dev and Flux 2: `comfy.model_base.Flux`
    with `guidance_embed` in its unet config); FluxGuidance puts the scale in the conditioning."""
    import comfy.model_base

    base = getattr(model, "model", model)
    config = getattr(getattr(base, "model_config", None), "unet_config", {}) or {}
    return isinstance(base, comfy.model_base.Flux) and bool(config.get("guidance_embed"))


def check_guidance(model, cfg: float, has_negative: bool) -> None:
    """The guidance rules, so no node guides silently less or more than asked.

    - A guidance-distilled model (Flux dev) is already guided by the scale FluxGuidance puts in
      the conditioning; classifier-free guidance on top would guide twice. So cfg must be 1
      (then `negative` is not needed and not used, and a cfg ramp is constant 1).
    - Otherwise cfg != 1 needs a `negative`: the paper guides against the empty prompt, and
      these nodes cannot encode text, so without one the node refuses rather than run unguided.
    """
    if abs(cfg - 1.0) < 1e-9:
        return
    if is_guidance_distilled(model):
        raise ValueError(
            f"cfg: this model is guidance-distilled (Flux dev): its guidance is the FluxGuidance value in the "
            f"conditioning, and cfg {cfg:g} would guide it a second time; set cfg to 1 (no negative is needed) and "
            "set the guidance with a FluxGuidance node on the positive conditioning")
    if not has_negative:
        raise ValueError(
            f"negative: cfg is {cfg:g} but no negative conditioning is connected, so there is nothing to guide "
            "against; connect a CLIP Text Encode of an empty prompt to negative (the paper guides against the "
            "empty prompt), or set cfg to 1 for an unguided run")


@dataclass
class GuidanceSpec:
    """How to evaluate the model: a GUIDER as given, or MODEL + conditionings + cfg."""

    model: object
    guider: object = None
    positive: list | None = None
    negative: list | None = None
    cfg: float = 1.0
    rec_positive: list | None = None
    rec_negative: list | None = None

    def __post_init__(self):
        check_guidance(self.model if self.guider is None else getattr(self.guider, "model_patcher", self.model),
                       self.base_cfg,
                       has_negative=self.guider is not None or self.negative is not None)

    @property
    def base_cfg(self) -> float:
        if self.guider is not None:
            return float(getattr(self.guider, "cfg", 1.0))
        return float(self.cfg)

    def build(self, recorded_branch: bool = False):
        """A fresh guider (a copy: the user's cached GUIDER is never changed)."""
        if self.guider is not None:
            if self.rec_positive is not None:
                raise ValueError("recorded_positive: a separate recorded-branch prompt needs MODEL + conditioning, "
                                 "not a GUIDER; disconnect the GUIDER or the recorded_positive input")
            guider = copy.copy(self.guider)
            guider.original_conds = dict(self.guider.original_conds)
            return guider
        if self.positive is None:
            raise ValueError("positive: connect a positive CONDITIONING (or a GUIDER)")
        if recorded_branch and self.rec_positive is not None:
            guider = BranchGuider(self.model)
            conds = {"positive": self.positive, "rec_positive": self.rec_positive}
            if self.negative is not None:
                conds["negative"] = self.negative
            if self.rec_negative is not None or self.negative is not None:
                conds["rec_negative"] = self.rec_negative if self.rec_negative is not None else self.negative
            guider.inner_set_conds(conds)
        else:
            guider = comfy.samplers.CFGGuider(self.model)
            conds = {"positive": self.positive}
            if self.negative is not None:
                conds["negative"] = self.negative
            guider.inner_set_conds(conds)
        guider.set_cfg(self.base_cfg)
        return guider


class BranchGuider(comfy.samplers.CFGGuider):
    """Cycle-SDE guider whose batch is [edited; recorded]: the edited half sees
    positive/negative, the recorded half rec_positive/rec_negative (DiffEdit-SDE: target
    prompt for the edit, source prompt for the recording)."""

    def predict_noise(self, x, timestep, model_options={}, seed=None):
        half = x.shape[0] // 2
        run = comfy.samplers.sampling_function
        edited = run(self.inner_model, x[:half], timestep[:half], self.conds.get("negative"),
                     self.conds.get("positive"), self.cfg, model_options=model_options, seed=seed)
        recorded = run(self.inner_model, x[half:], timestep[half:], self.conds.get("rec_negative"),
                       self.conds.get("rec_positive"), self.cfg, model_options=model_options, seed=seed)
        return torch.cat([edited, recorded])


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
    progress and cancellation. Calls without a step index (inversion) use `inversion_cfg`."""

    def __init__(self, guider, progress: Progress, cfg_scales=None, setters=(), inversion_cfg=1.0):
        self.guider, self.progress = guider, progress
        self.cfg_scales, self.setters = cfg_scales, list(setters)
        self.inversion_cfg = inversion_cfg

    def step_kwargs(self, i: int) -> dict:
        return {"step": i}

    def wrap(self, model):
        def denoiser(x, sigma, step=None, **extra):
            self.progress.before_call()
            if self.cfg_scales is not None and hasattr(self.guider, "cfg"):
                self.guider.cfg = float(self.cfg_scales[step] if step is not None else self.inversion_cfg)
            for setter in self.setters:
                setter(step)
            denoised = model(x, sigma, **extra)
            self.progress.after_call(x, denoised)
            return denoised

        return denoiser


def run_sampler(guider, latent_samples_: torch.Tensor, sigmas: torch.Tensor, sampler_fn, seed: int) -> torch.Tensor:
    """Run `sampler_fn(model, x, sigmas, extra_args, callback, disable)` inside ComfyUI's
    guider with zero noise. The function receives x = a(sigmas[0]) * process_latent_in(latent)
    and its return value leaves as process_latent_out(inverse_noise_scaling(sigmas[-1], x))."""
    sampler = comfy.samplers.KSAMPLER(sampler_fn)
    noise = torch.zeros_like(latent_samples_)
    return guider.sample(noise, latent_samples_, sampler, sigmas, denoise_mask=None, callback=None,
                         disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)


def generator_for(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
