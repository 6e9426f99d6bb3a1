"""Guards that keep a hostile or oversized prompt from reaching heavy work.

- `trajectory_bytes` / `check_memory`: a recording holds one latent per kept sigma, so its
  size is known before anything is recorded. The nodes that record (the inversions and the
  all-in-one SDE Drag) compare it with the memory available on the device the recording
  lives on and raise a ValueError that says how much is needed, before any model call.
- `check_representable`: a noised LATENT travels as `x / a(sigma)` (ComfyUI's convention);
  for rectified flow at sigma >= 1, `a = 0`, so it cannot be carried (inf/NaN).
- NaN/inf FLOAT widget values are refused in each node's `validate_inputs` hook
  (`inputs.check_widgets`), before anything runs.
"""
from __future__ import annotations

import math

import torch

FLOAT32_BYTES = 4
# Working latents besides the recording: the edited latent, the batched [edited; recorded]
# model input and its output, the noise of the copy-paste, the result of each step.
WORKING_LATENTS = 8
# record_forward builds the list of states and then stacks it: both exist for a moment.
STACK_FACTOR = 2
# Identity LoRA training keeps every layer's activations for the backward pass. Its peak above the
# loaded model, measured on full-size SD1.5 and SDXL in float32 (`benchmarks/run.py --lora-memory`,
# benchmarks/results/lora-memory.json): SD1.5 0.37 GiB at a 16x16 latent and 0.93 GiB at 32x32, i.e.
# 0.18 GiB + 0.75 MiB per latent cell, 5x ComfyUI's own 0.15 MiB per cell (x the model's
# memory_usage_factor, 1.0 for SD1.5) that `memory_required` uses for one inference call; SDXL
# 0.65 GiB at 16x16. The need is figured from that per-cell rate (the same on every device, unlike
# `memory_required`, whose flash-attention branch is 7x smaller), rounded up, plus the fixed part.
INFERENCE_BYTES_PER_CELL = 0.15 * 2**20
TRAINING_ACTIVATION_FACTOR = 6
TRAINING_FIXED_BYTES = int(0.75 * 2**30)
# AdamW: parameter, gradient and two moments per LoRA weight, float32.
ADAM_COPIES = 4


def latent_bytes(shape) -> int:
    return int(math.prod(int(s) for s in shape)) * FLOAT32_BYTES


def trajectory_bytes(shape, n_steps: int) -> int:
    """Bytes of one recording: (n_steps + 1) latents of `shape` in float32."""
    return (int(n_steps) + 1) * latent_bytes(shape)


def recording_need(shape, n_steps: int, n_frames: int = 0) -> int:
    """Peak bytes of one sub-drag's recording (list + stacked copy), the frames kept across
    sub-drags (and their concatenation at the end) and a few working latents."""
    one = latent_bytes(shape)
    return STACK_FACTOR * trajectory_bytes(shape, n_steps) + 2 * int(n_frames) * one + WORKING_LATENTS * one


def _same_model(loaded, model) -> bool:
    patcher = getattr(loaded, "model", None)
    return model is not None and patcher is not None and getattr(patcher, "model", None) is model.model


def memory_budget(device=None, model=None) -> dict:
    """What work beside `model`'s weights can use on `device`, in bytes, with its parts:

    CPU/MPS: `free` = MemAvailable (psutil, as ComfyUI reads it); the weights already count as used.
    CUDA: `free` device memory + `offloadable` (what ComfyUI frees by offloading the OTHER loaded
    models) - `to_load` (the part of `model`'s weights not on the device yet, which the run loads
    first). The model about to run is never counted as free: it stays while the work runs."""
    import comfy.model_management as mm

    device = torch.device("cpu") if device is None else torch.device(device)
    free = int(mm.get_free_memory(device))
    if device.type in ("cpu", "mps"):
        return {"device": str(device), "free": free, "offloadable": 0, "to_load": 0, "available": free}
    offloadable, loaded_here = 0, 0
    for loaded in list(mm.current_loaded_models):
        if getattr(loaded, "device", None) != device:
            continue
        if _same_model(loaded, model):
            loaded_here += int(loaded.model_loaded_memory())
        else:
            offloadable += int(loaded.model_loaded_memory())
    to_load = max(int(model.model_size()) - loaded_here, 0) if model is not None else 0
    return {"device": str(device), "free": free, "offloadable": offloadable, "to_load": to_load,
            "available": free + offloadable - to_load}


def available_bytes(device=None, model=None) -> int:
    """`memory_budget(device, model)["available"]`."""
    return memory_budget(device, model)["available"]


def budget_text(budget: dict) -> str:
    if budget["offloadable"] or budget["to_load"]:
        return (f"{_size(budget['available'])} is available on {budget['device']} ({_size(budget['free'])} free + "
                f"{_size(budget['offloadable'])} from offloading other models - {_size(budget['to_load'])} of this "
                "model's weights still to load)")
    return f"{_size(budget['available'])} is available on {budget['device']}"


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def check_memory(shape, n_steps: int, n_frames: int = 0, device=None, what: str = "SDE Drag",
                 downscale: float | None = None, model=None) -> int:
    """ValueError (naming latent and steps) when the recording cannot fit beside `model` (the
    model about to run, never counted as free); else the bytes needed."""
    need = recording_need(shape, n_steps, n_frames)
    budget = memory_budget(device, model)
    if need > budget["available"]:
        b, c, h, w = (int(s) for s in shape)
        image = f", a {round(w * downscale)}x{round(h * downscale)} image" if downscale else ""
        raise ValueError(
            f"latent/steps: {what} needs about {_size(need)} of memory for its recording "
            f"({int(n_steps) + 1} states of {_size(latent_bytes(shape))}: latent {b}x{c}x{h}x{w}{image}, "
            f"batch {b}{f', plus {n_frames} frame(s)' if n_frames else ''}) but only {budget_text(budget)}. "
            "Lower steps or t0 (or connect shorter SIGMAS), use a smaller "
            "image or batch, or free memory. Nothing was computed.")
    return need


def check_representable(schedule, sigmas, name: str = "t0/sigmas") -> None:
    """The noisiest level must keep some of the image: a(sigmas[0]) > 0 (rectified flow: sigma < 1)."""
    top = float(sigmas[0])
    a = float(schedule.a(top))
    if not (math.isfinite(a) and a > 1e-6):
        raise ValueError(
            f"{name}: the schedule starts at sigma {top:g}, where this model keeps none of the image "
            f"(a(sigma) = {a:g}: pure noise for a rectified-flow model); ComfyUI's noised LATENT cannot "
            "carry it. Use t0 below 1 (e.g. 0.99) or SIGMAS starting below 1 (SplitSigmas).")


def drag_memory_estimate(model, shape, latents_per_call: int, cfg: float, n_steps: int, n_frames: int = 0) -> dict:
    """Bytes a drag needs beside the model's weights, said before any model call:
    activations = ComfyUI's own estimate for one call (`BaseModel.memory_required`, the formula
    its samplers reserve with) of `batch x latents_per_call x (2 if cfg != 1 else 1)` rows, and
    the recording (`recording_need`); `weights` is the model's size as ComfyUI counts it."""
    b = int(shape[0])
    rows = b * int(latents_per_call) * (1 if float(cfg) == 1.0 else 2)
    activations = int(model.model.memory_required([rows, *(int(s) for s in shape[1:])]))
    recording = recording_need(shape, n_steps, n_frames)
    return {"rows": rows, "activations": activations, "recording": recording, "total": activations + recording,
            "weights": int(model.model_size())}


def lora_training_need(model, shape, lora_parameters: int) -> int:
    """Bytes Identity LoRA training needs beside the weights:
    need = TRAINING_FIXED_BYTES + TRAINING_ACTIVATION_FACTOR * INFERENCE_BYTES_PER_CELL
           * memory_usage_factor * batch * h * w + ADAM_COPIES * 4 * lora_parameters,
    the activations kept for backward and the LoRA factors with their gradients and AdamW moments."""
    batch, _, height, width = (int(s) for s in shape)
    usage = float(getattr(model.model, "memory_usage_factor", 1.0))
    activations = TRAINING_ACTIVATION_FACTOR * INFERENCE_BYTES_PER_CELL * usage * batch * height * width
    return int(TRAINING_FIXED_BYTES + activations) + ADAM_COPIES * FLOAT32_BYTES * int(lora_parameters)


def check_training_memory(model, shape, lora_parameters: int) -> int:
    """ValueError naming the need and what is available (model about to train not counted as free)."""
    need = lora_training_need(model, shape, lora_parameters)
    budget = memory_budget(getattr(model, "load_device", None), model)
    if need > budget["available"]:
        b, c, h, w = (int(s) for s in shape)
        raise ValueError(
            f"latent: Identity LoRA training needs about {_size(need)} beside the model's weights (activations kept "
            f"for the backward pass of a {b}x{c}x{h}x{w} latent, and {lora_parameters} LoRA weights with their "
            f"optimizer state) but only {budget_text(budget)}. Train on a smaller image or a lower rank, or free "
            "memory (close other models). Nothing was trained.")
    return need


def memory_text(estimate: dict) -> str:
    return (f"memory estimate {_size(estimate['total'])} beside the weights ({_size(estimate['weights'])}): "
            f"activations of {estimate['rows']} rows {_size(estimate['activations'])} + recording "
            f"{_size(estimate['recording'])}")
