"""Training adapters on ComfyUI's own diffusion model, in place, without a second copy of it.

Two obstacles, two context managers, both undone in `finally`:

- ComfyUI builds and loads its models under `torch.inference_mode()`, so their weights are
  inference tensors, which autograd refuses to save for backward ("Inference tensors cannot be
  saved for backward"). `trainable_aliases(module)` swaps every parameter and buffer for an
  ordinary tensor that aliases the same memory (DLPack: no bytes are copied) for the duration of
  the training, then puts the originals back. A tensor DLPack cannot alias (a tensor subclass
  such as a quantized weight) is cloned, that one alone, and counted.
- peft wraps modules in place (`peft.inject_adapter_in_model` replaces each target Linear by a
  LoRA layer around the original). `peft_lora_layers(...)` injects, yields the trainable
  factors, and afterwards sets every original module back where it was, so the model that every
  clone of the ModelPatcher shares has exactly its own modules and tensors again.

Base weights stay frozen (`requires_grad=False`); only the LoRA factors train.
"""
from __future__ import annotations

import contextlib
import logging

import torch
import torch.utils.dlpack


def ordinary_alias(tensor: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """`(alias, copied)`: a non-inference tensor over the same memory as `tensor` (DLPack), or a
    clone where DLPack cannot share it (`copied` True). Non-inference tensors come back as they are."""
    if not tensor.is_inference():
        return tensor, False
    try:
        alias = torch.utils.dlpack.from_dlpack(tensor.detach())
        if alias.data_ptr() == tensor.data_ptr() and not alias.is_inference():
            return alias, False
    except (RuntimeError, TypeError, BufferError, ValueError):
        pass
    return tensor.detach().clone(), True


@contextlib.contextmanager
def trainable_aliases(module: torch.nn.Module):
    """Within the block, every parameter and buffer of `module` is an ordinary (trainable-graph
    friendly) alias of the original memory, with `requires_grad=False`; afterwards the original
    objects are back in place. Yields the number of tensors that had to be copied."""
    swapped = []  # (owner, kind, name, original)
    copied = 0
    try:
        for owner in module.modules():
            for name, param in list(owner._parameters.items()):
                if param is None:
                    continue
                alias, was_copied = ordinary_alias(param.data if isinstance(param, torch.nn.Parameter) else param)
                copied += was_copied
                swapped.append((owner, "_parameters", name, param))
                owner._parameters[name] = torch.nn.Parameter(alias, requires_grad=False)
            for name, buf in list(owner._buffers.items()):
                if buf is None:
                    continue
                alias, was_copied = ordinary_alias(buf)
                copied += was_copied
                swapped.append((owner, "_buffers", name, buf))
                owner._buffers[name] = alias
        if copied:
            logging.info("SDE Drag identity LoRA: %d tensor(s) could not be aliased and were copied", copied)
        yield copied
    finally:
        for owner, kind, name, original in reversed(swapped):
            getattr(owner, kind)[name] = original


def _set_submodule(root: torch.nn.Module, path: str, module: torch.nn.Module) -> None:
    parent_path, _, leaf = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, leaf, module)


@contextlib.contextmanager
def peft_lora_layers(module: torch.nn.Module, target_paths: list[str], rank: int, seed: int):
    """peft LoRA layers (r = lora_alpha = `rank`, no dropout) on the Linear layers at
    `target_paths` of `module`, injected in place; yields `{path: peft layer}`. peft's own
    initialisation (A random under `seed`, B = 0) makes the adapted model start equal to the base.
    On exit every original module is set back and peft's bookkeeping attribute removed."""
    import peft

    originals = {path: module.get_submodule(path) for path in target_paths}
    had_config = hasattr(module, "peft_config")
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) & 0xFFFF_FFFF)
            config = peft.LoraConfig(r=int(rank), lora_alpha=int(rank), lora_dropout=0.0,
                                     target_modules=list(target_paths))
            peft.inject_adapter_in_model(config, module)
        yield {path: module.get_submodule(path) for path in target_paths}
    finally:
        for path, original in originals.items():
            _set_submodule(module, path, original)
        if not had_config and "peft_config" in module.__dict__:
            del module.__dict__["peft_config"]


def lora_factors(layers: dict) -> tuple[list[torch.nn.Parameter], dict]:
    """`(params, {path: (A, B)})`: the peft layers' factors A [r, in] and B [out, r], the only
    tensors that train."""
    params, factors = [], {}
    for path, layer in layers.items():
        a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
        a.requires_grad_(True)
        b.requires_grad_(True)
        params += [a, b]
        factors[path] = (a, b)
    return params, factors


@contextlib.contextmanager
def host_training_flag():
    """`comfy.model_management.in_training = True` while the block runs, as ComfyUI's own
    training node sets it, then the value it had. Newer hosts (0.2x+) read the flag to leave
    their fused inference-only kernels (Flux's `comfy_kitchen` RoPE has no backward) for the
    differentiable ones; hosts without the flag are left as they are."""
    import comfy.model_management as mm

    if not hasattr(mm, "in_training"):
        yield
        return
    before = getattr(mm, "in_training")
    setattr(mm, "in_training", True)
    try:
        yield
    finally:
        setattr(mm, "in_training", before)
