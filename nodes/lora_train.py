"""Identity LoRA: training with peft on ComfyUI's diffusion model in place (frozen, no copy:
`train_in_place`), and applying the result at forward time on a cloned ModelPatcher with a cheap, per-call scale.

How the LoRA is carried. The MODEL returned by the training node is a clone of the input
ModelPatcher with one APPLY_MODEL wrapper (key `WRAPPER_KEY`). While the wrapped
`BaseModel.apply_model` runs, forward hooks on the attention projections (to_q, to_k, to_v,
to_out.0) add `scale * (alpha / rank) * B(A(x))` to each projection's output; the hooks are
removed when the call returns. So
- the per-call cost is the low-rank product only (no weight is re-patched, ever);
- weight patches of other LoRAs (LoraLoader, before or after this node) act on the base
  projection underneath, so they compose; removing the wrapper (or using the input MODEL)
  leaves no trace;
- changing the scale between calls (SDE Drag's ramp) costs nothing.

Training target. `BaseModel.apply_model` returns the denoised estimate
`D = c_skip(s) x + c_out(s) F(x)` for every family (F = the network output). The loss is
`|D - x0|^2 / c_out(s)^2 = |F(x) - F_target|^2`, i.e. exactly the family's own training target:
eps for EPS (c_out = -s), v for V_PREDICTION (c_out = -s sd / sqrt(s^2 + sd^2)), the velocity
eps - x0 for CONST/rectified flow (c_out = -s). c_out is read off ComfyUI's own
`calculate_denoised`, so no family is special-cased.
"""
from __future__ import annotations

import os
import re

import torch

import comfy.model_management
import comfy.patcher_extension
import comfy.sampler_helpers
import comfy.samplers
import comfy.utils

from .limits import check_training_memory
from .train_in_place import host_training_flag, lora_factors, peft_lora_layers, trainable_aliases

WRAPPER_KEY = "sde_drag_identity_lora"
# Attention projections by architecture: UNets (SD1.x/2.x/SDXL) name them to_q/to_k/to_v/to_out.0;
# DiTs (Flux, SD3) fuse q, k and v into `qkv` with an output `proj`, and Flux's single blocks
# compute attention and MLP together in linear1/linear2.
TARGET_MODULES = ("to_q", "to_k", "to_v", "to_out.0")
DIT_TARGET_MODULES = ("qkv", "proj", "linear1", "linear2")


def target_modules_for(diffusion_model) -> list[str]:
    """The Linear layers the identity LoRA trains: the UNet's attention projections where the
    model has them, else the DiT's fused attention (and single-block) projections."""
    for suffixes in (TARGET_MODULES, DIT_TARGET_MODULES):
        names = [name for name, module in diffusion_model.named_modules()
                 if isinstance(module, torch.nn.Linear) and any(name == s or name.endswith("." + s) for s in suffixes)]
        if names:
            return names
    raise ValueError("model: no attention projections (to_q/to_k/to_v/to_out.0, or a DiT's qkv/proj) found to "
                     "attach a LoRA to")


def lora_parameter_count(diffusion_model, paths, rank: int) -> int:
    """rank x (in + out) per adapted Linear: the sizes of A [r, in] and B [out, r]."""
    total = 0
    for path in paths:
        layer = diffusion_model.get_submodule(path)
        total += int(rank) * (layer.in_features + layer.out_features)
    return total


DEFAULT_FILE_STEM = "sde_drag_identity_lora"
MAX_STEM = 100


class IdentityLoRA:
    """An APPLY_MODEL wrapper carrying trained LoRA factors for modules of `diffusion_model`.

    `weights` maps a module path (relative to `diffusion_model`) to `(A [r, in], B [out, r])`.
    `scale` multiplies the LoRA (1 = full strength). When `scale` is None, `sigma_scales`
    ((sigmas, scales) of a ramp) gives the scale of the step whose sigma is nearest to the
    call's sigma (used for calls outside the numbered steps, e.g. DDIM inversion).
    """

    def __init__(self, weights: dict, alpha: float, rank: int, scale: float | None = 1.0, sigma_scales=None):
        self.weights, self.alpha, self.rank = weights, float(alpha), int(rank)
        self.scale, self.sigma_scales = scale, sigma_scales
        self._cache: dict = {}

    def with_scale(self, scale=1.0, sigma_scales=None) -> "IdentityLoRA":
        """A copy sharing the factors, with its own scale (so a node never changes the user's MODEL)."""
        other = IdentityLoRA(self.weights, self.alpha, self.rank, scale, sigma_scales)
        other._cache = self._cache
        return other

    def scale_for(self, sigma: float) -> float:
        if self.scale is not None:
            return float(self.scale)
        if self.sigma_scales is None:
            return 1.0
        sigmas, scales = self.sigma_scales
        nearest = min(range(len(scales)), key=lambda j: abs(float(sigmas[j]) - sigma))
        return float(scales[nearest])

    def _factors(self, path, device, dtype):
        key = (path, str(device), dtype)
        if key not in self._cache:
            a, b = self.weights[path]
            self._cache[key] = (a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype))
        return self._cache[key]

    def __call__(self, executor, x, t, *args, **kwargs):
        sigma = float(t.flatten()[0]) if torch.is_tensor(t) else float(t)
        factor = self.scale_for(sigma) * self.alpha / self.rank
        if factor == 0.0:
            return executor(x, t, *args, **kwargs)
        diffusion_model = executor.class_obj.diffusion_model
        handles = []
        try:
            for path in self.weights:
                module = diffusion_model.get_submodule(path)
                handles.append(module.register_forward_hook(self._hook(path, factor)))
            return executor(x, t, *args, **kwargs)
        finally:
            for handle in handles:
                handle.remove()

    def _hook(self, path, factor):
        def hook(module, inputs, output):
            a, b = self._factors(path, output.device, output.dtype)
            low = torch.nn.functional.linear(inputs[0].to(a.dtype), a)
            if output.is_contiguous() and not (torch.is_grad_enabled() and output.requires_grad):
                # output += factor * low @ b.T in place: no full-size temporaries on the hot path
                output.view(-1, output.shape[-1]).addmm_(low.reshape(-1, low.shape[-1]), b.t(), alpha=factor)
                return output
            return output + factor * torch.nn.functional.linear(low, b)

        return hook

    def state_dict(self) -> dict:
        """ComfyUI's LoRA key format (read by the core LoraLoader)."""
        out = {}
        for path, (a, b) in self.weights.items():
            out[f"diffusion_model.{path}.lora_A.weight"] = a.detach().float().cpu().contiguous()
            out[f"diffusion_model.{path}.lora_B.weight"] = b.detach().float().cpu().contiguous()
            out[f"diffusion_model.{path}.alpha"] = torch.tensor(self.alpha)
        return out


def find_identity_lora(model) -> IdentityLoRA | None:
    wrappers = model.get_wrappers(comfy.patcher_extension.WrappersMP.APPLY_MODEL, WRAPPER_KEY)
    return wrappers[-1] if wrappers else None


def with_identity_lora(model, lora: IdentityLoRA):
    """A clone of `model` carrying `lora` (replacing any identity LoRA it carried)."""
    out = model.clone()
    out.remove_wrappers_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, WRAPPER_KEY)
    out.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, WRAPPER_KEY, lora)
    return out


def model_kwargs(base_model, positive, x: torch.Tensor, device) -> dict:
    """apply_model keyword arguments for the first entry of a CONDITIONING (cross-attention,
    pooled/ADM `y`, ...), prepared by the model's own `extra_conds` for the batch of `x`."""
    if not positive:
        raise ValueError("positive: connect a positive CONDITIONING (the prompt describing the image)")
    conds = comfy.sampler_helpers.convert_cond(positive[:1])
    conds = comfy.samplers.encode_model_conds(base_model.extra_conds, conds, x, device, "positive")
    return {k: v.process_cond(batch_size=x.shape[0], device=device).cond
            for k, v in conds[0]["model_conds"].items()}


def output_weight(sampling, sigma: torch.Tensor) -> torch.Tensor:
    """1 / c_out(sigma)^2 per batch item, from ComfyUI's calculate_denoised (see module doc)."""
    shape = (sigma.shape[0], 1, 1, 1)
    c_out = sampling.calculate_denoised(sigma, torch.ones(shape, device=sigma.device),
                                        torch.zeros(shape, device=sigma.device))
    return 1.0 / c_out.flatten().float() ** 2


def denoising_loss(base_model, x0, kwargs, sigma, noise) -> torch.Tensor:
    """Mean of |F - F_target|^2 in the family's own target (eps / v / flow velocity)."""
    sampling = base_model.model_sampling
    x = sampling.noise_scaling(sigma.view(-1, *([1] * (x0.ndim - 1))), noise, x0)
    denoised = base_model.apply_model(x, sigma, **kwargs)
    per_item = ((denoised.float() - x0.float()) ** 2).flatten(1).mean(1)
    return (per_item * output_weight(sampling, sigma).float()).mean()


def schedule_sigmas(base_model) -> torch.Tensor:
    """The model's training schedule (1000 discrete sigmas for EPS/V/discrete flow)."""
    sampling = base_model.model_sampling
    sigmas = getattr(sampling, "sigmas", None)
    if sigmas is None or len(sigmas) < 2:
        t = torch.linspace(0.0, 1.0, 1001)[1:]
        sigmas = torch.stack([sampling.percent_to_sigma(1.0 - float(p)) * torch.ones(()) for p in t])
    return sigmas.detach().float().cpu()


def fixed_pairs(x0: torch.Tensor, sigmas: torch.Tensor, count: int, seed: int):
    """`count` reproducible (sigma, noise) pairs for measuring the loss."""
    gen = torch.Generator().manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    idx = torch.randint(0, len(sigmas), (count, x0.shape[0]), generator=gen)
    return [(sigmas[i], torch.randn(x0.shape, generator=gen)) for i in idx]


def evaluate_loss(base_model, x0, kwargs, pairs, on_work=None) -> float:
    """Mean denoising loss over `pairs`; `on_work()` after each pair (one model call)."""
    total = 0.0
    with torch.no_grad():
        dev = x0.device
        for s, n in pairs:
            total += float(denoising_loss(base_model, x0, kwargs, s.to(dev), n.to(dev)))
            if on_work is not None:
                on_work()
    return total / len(pairs)


def work_units(steps: int, loss_pairs) -> int:
    """Model calls of `train_identity_lora`: the loss pairs before and after, and the steps."""
    return int(steps) + 2 * (len(loss_pairs) if loss_pairs is not None else 0)


def train_identity_lora(model, samples: torch.Tensor, positive, *, rank=4, steps=100, learning_rate=2e-4, seed=1234,
                        on_step=None, loss_pairs=None, on_work=None):
    """Train a peft LoRA on `model`'s own diffusion model, in place and frozen: no copy of the
    model is made, and when this returns (or raises, or is cancelled) the model holds exactly
    its own modules and tensors again (`train_in_place`). The input MODEL is never changed.

    `samples` is a LATENT's samples (user space). Returns `(IdentityLoRA, info)`; `info` holds
    `loss_before`/`loss_after` on `loss_pairs` ((sigma, noise) pairs) when given, and
    `tensors_copied` (0 unless a weight DLPack cannot alias, e.g. a quantized tensor subclass).
    `on_step(i)` runs before every step (cancel); `on_work()` after each of the
    `work_units(steps, loss_pairs)` model calls (loss pairs before, steps, loss pairs after), so a
    progress bar over them covers the whole training.
    """
    rank, steps = int(rank), int(steps)
    if rank < 1 or steps < 1:
        raise ValueError(f"rank and steps must be >= 1, got rank={rank}, steps={steps}")
    base_model, device = model.model, model.load_device
    targets = target_modules_for(base_model.diffusion_model)
    check_training_memory(model, samples.shape, lora_parameter_count(base_model.diffusion_model, targets, rank))
    comfy.model_management.load_models_gpu([model])
    info = {}
    try:
        with torch.inference_mode(False), torch.enable_grad(), host_training_flag(), \
                trainable_aliases(base_model) as copied, peft_lora_layers(base_model.diffusion_model, targets, rank, seed) as layers:
            info["tensors_copied"] = copied
            params, factors = lora_factors(layers)
            x0 = base_model.process_latent_in(samples.detach().clone().float().to(device))
            kwargs = {k: (v.detach().clone() if torch.is_tensor(v) else v)
                      for k, v in model_kwargs(base_model, positive, x0, device).items()}
            sigmas = schedule_sigmas(base_model)
            if loss_pairs is not None:
                info["loss_before"] = evaluate_loss(base_model, x0, kwargs, loss_pairs, on_work)
            optimizer = torch.optim.AdamW(params, lr=float(learning_rate))
            gen = torch.Generator().manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
            for i in range(steps):
                if on_step is not None:
                    on_step(i)
                sigma = sigmas[torch.randint(0, len(sigmas), (x0.shape[0],), generator=gen)].to(device)
                noise = torch.randn(x0.shape, generator=gen).to(device)
                # DiT blocks (Flux) add their residuals in place (`img += ...`) on tensors autograd saved;
                # under this context a mutated saved tensor is cloned first, so backward sees the original.
                with torch.autograd.graph.allow_mutation_on_saved_tensors():
                    loss = denoising_loss(base_model, x0, kwargs, sigma, noise)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                optimizer.step()
                if on_work is not None:
                    on_work()
            if loss_pairs is not None:
                info["loss_after"] = evaluate_loss(base_model, x0, kwargs, loss_pairs, on_work)
            weights = {path: (a.detach().float().cpu().clone(), b.detach().float().cpu().clone())
                       for path, (a, b) in factors.items()}
            del optimizer, params, factors, layers
    finally:
        comfy.model_management.soft_empty_cache()
    return IdentityLoRA(weights, alpha=rank, rank=rank), info


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_stem(name: str) -> str:
    """A file stem with no path in it: letters, digits, '.', '_', '-', ' ' only; no leading
    dots; at most MAX_STEM characters; a default when nothing is left."""
    name = str(name).replace("\x00", "")
    name = os.path.basename(name.replace("\\", "/"))
    if name.lower().endswith(".safetensors"):
        name = name[: -len(".safetensors")]
    name = _UNSAFE.sub("_", name).strip(" ._")
    return name[:MAX_STEM].rstrip(" .") or DEFAULT_FILE_STEM


def unused_path(folder: str, stem: str) -> str:
    """`folder/stem.safetensors`, or `stem_00001.safetensors`, ... if taken (never overwrites)."""
    folder = os.path.realpath(folder)
    for counter in range(0, 100000):
        name = f"{stem}.safetensors" if counter == 0 else f"{stem}_{counter:05d}.safetensors"
        path = os.path.join(folder, name)
        if os.path.dirname(os.path.realpath(path)) != folder:
            raise ValueError(f"filename: {name!r} would leave the loras folder")
        if not os.path.lexists(path):
            return path
    raise ValueError(f"filename: too many files named {stem}_NNNNN.safetensors in {folder}")


def layer_kind(path: str) -> str:
    """`input_blocks.1.1.transformer_blocks.0.attn1.to_out.0` -> `to_out.0`; `...img_attn.qkv` -> `qkv`."""
    parts = path.split(".")
    return ".".join(parts[-2:]) if parts[-1].isdigit() else parts[-1]


def save_lora(lora: IdentityLoRA, folder: str, name: str) -> str:
    import safetensors.torch

    os.makedirs(folder, exist_ok=True)
    path = unused_path(folder, safe_stem(name))
    metadata = {"format": "comfyui-lora", "sde_drag": "identity_lora", "rank": str(lora.rank),
                "alpha": str(lora.alpha), "target_modules": ",".join(sorted({layer_kind(path) for path in lora.weights}))}
    safetensors.torch.save_file(lora.state_dict(), path, metadata=metadata)
    return path


def lora_ramp_sigmas(sigmas: torch.Tensor, scales) -> tuple:
    """(sigma at which step j evaluates the model, scale of step j) for nearest-sigma look-up."""
    return [float(s) for s in sigmas[: len(scales)]], list(scales)


__all__ = ["IdentityLoRA", "WRAPPER_KEY", "find_identity_lora", "with_identity_lora", "train_identity_lora",
           "work_units", "fixed_pairs", "evaluate_loss", "model_kwargs", "denoising_loss", "schedule_sigmas", "safe_stem",
           "unused_path", "save_lora", "lora_ramp_sigmas"]
