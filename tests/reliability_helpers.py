"""Shared by the reliability tests: fingerprints of ComfyUI values (to prove nothing is
mutated) and test-only nodes: a pass-through probe that fingerprints what flows through it,
hostile LATENT/MASK makers and a MODEL whose calls are counted (and that can cancel or fail
in the middle of a node's work).

Also loaded by the live server as a custom node folder (`probe_pack_init`), so the server
tests can count model calls inside the server process.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time

import torch


# ---- fingerprints ---------------------------------------------------------------------------------

PATCHER_FIELDS = ("patches", "object_patches", "model_options", "weight_wrapper_patches", "wrappers", "callbacks",
                  "additional_models", "attachments", "injections", "hook_patches", "force_cast_weights",
                  "patches_uuid")
# inner_model/conds/loaded_models are the guider's scratch space while ComfyUI samples with it (left set by
# ComfyUI itself when sampling fails): not user data.
GUIDER_FIELDS = ("cfg", "original_conds", "model_options", "model_patcher")


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.is_nested:
        return b"".join(_tensor_bytes(x) for x in t.unbind())
    return t.reshape(-1).view(torch.uint8).numpy().tobytes()


def fingerprint(obj) -> str:
    """sha256 over the content of `obj`: tensors by bytes, ModelPatchers by their model's state
    dict, patches and model_options, guiders by cfg, conditionings, model_options and model,
    containers recursively, other objects by their attributes; functions by identity."""
    h = hashlib.sha256()
    _feed(h, obj, set(), 0)
    return h.hexdigest()


def _feed(h, obj, seen: set, depth: int) -> None:
    if depth > 12:
        h.update(b"<deep>")
        return
    if isinstance(obj, torch.Tensor):
        h.update(f"T{obj.dtype}{tuple(obj.shape)}".encode())
        h.update(_tensor_bytes(obj))
        return
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        h.update(repr(obj).encode())
        return
    if id(obj) in seen:
        h.update(b"<seen>")
        return
    seen = seen | {id(obj)}
    if isinstance(obj, dict):
        h.update(b"{")
        for key in sorted(obj, key=repr):
            h.update(repr(key).encode())
            _feed(h, obj[key], seen, depth + 1)
        h.update(b"}")
        return
    if isinstance(obj, (list, tuple, set, frozenset)):
        h.update(type(obj).__name__.encode())
        for item in (sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj):
            _feed(h, item, seen, depth + 1)
        return
    if isinstance(obj, torch.nn.Module):
        h.update(f"M{type(obj).__name__}".encode())
        _feed(h, obj.state_dict(keep_vars=False), seen, depth + 1)
        return
    if hasattr(obj, "model") and hasattr(obj, "patches") and hasattr(obj, "model_options"):  # ModelPatcher
        h.update(b"ModelPatcher")
        _feed(h, obj.model, seen, depth + 1)
        for name in PATCHER_FIELDS:
            if hasattr(obj, name):
                h.update(name.encode())
                _feed(h, getattr(obj, name), seen, depth + 1)
        return
    if hasattr(obj, "original_conds") and hasattr(obj, "model_patcher"):  # GUIDER
        h.update(f"Guider{type(obj).__name__}".encode())
        for name in GUIDER_FIELDS:
            if hasattr(obj, name):
                h.update(name.encode())
                _feed(h, getattr(obj, name), seen, depth + 1)
        return
    if callable(obj) and not hasattr(obj, "__dict__"):
        h.update(f"F{getattr(obj, '__qualname__', type(obj).__name__)}{id(obj)}".encode())
        return
    if hasattr(obj, "__dict__"):
        h.update(f"O{type(obj).__qualname__}".encode())
        _feed(h, dict(vars(obj)), seen, depth + 1)
        return
    h.update(f"X{type(obj).__qualname__}{id(obj)}".encode())


# ---- test-only nodes --------------------------------------------------------------------------------

class _AnyType(str):
    def __ne__(self, other):
        return False


ANY = _AnyType("*")
PROBED: dict = {}  # label -> (value, fingerprint when it passed)


class RelProbe:
    """Pass-through: remembers the value and its fingerprint before any consumer runs."""

    CATEGORY = "_tests"
    FUNCTION = "probe"
    RETURN_TYPES = (ANY,)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": (ANY,), "label": ("STRING", {"default": "value"})}}

    def probe(self, value, label):
        PROBED[label] = (value, fingerprint(value))
        return (value,)


class RelNumber:
    """Any number as a link's value (what a Primitive, a math node or an API workflow can send):
    `text` is read with float(), or int() when `whole`."""

    CATEGORY = "_tests"
    FUNCTION = "make"
    RETURN_TYPES = (ANY,)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": "0"}), "whole": ("BOOLEAN", {"default": False})}}

    def make(self, text, whole):
        return (int(text) if whole else float(text),)


POISONS = {"none": None, "nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class RelLatent:
    """A seeded LATENT of any size and batch, optionally with a NaN/inf cell, a noise_mask and a batch_index."""

    CATEGORY = "_tests"
    FUNCTION = "make"
    RETURN_TYPES = ("LATENT",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"width": ("INT", {"default": 16, "min": 1, "max": 4096}),
                             "height": ("INT", {"default": 16, "min": 1, "max": 4096}),
                             "batch": ("INT", {"default": 1, "min": 1, "max": 64}),
                             "seed": ("INT", {"default": 0}), "poison": (list(POISONS),),
                             "extras": ("BOOLEAN", {"default": False})}}

    def make(self, width, height, batch, seed, poison, extras):
        gen = torch.Generator().manual_seed(seed)
        x = 0.5 * torch.randn(batch, 4, height, width, generator=gen)
        x[:, :, height // 3:height // 2 + 1, width // 3:width // 2 + 1] = 1.5
        if POISONS[poison] is not None:
            x[0, 1, height // 2, width // 2] = POISONS[poison]
        latent = {"samples": x}
        if extras:
            latent["noise_mask"] = torch.ones(1, 1, height * 8, width * 8)
            latent["batch_index"] = list(range(batch))
        return (latent,)


class RelMask:
    """A MASK of any shape ("2,64,64"), dtype and fill, optionally with a NaN cell."""

    CATEGORY = "_tests"
    FUNCTION = "make"
    RETURN_TYPES = ("MASK",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"shape": ("STRING", {"default": "1,128,128"}),
                             "fill": ("FLOAT", {"default": 1.0, "min": -1e9, "max": 1e9}),
                             "dtype": (["float32", "float16", "float64", "bool", "uint8"],),
                             "poison": (list(POISONS),)}}

    def make(self, shape, fill, dtype, poison):
        dims = [int(s) for s in shape.split(",") if s.strip()]
        m = torch.full(dims, fill, dtype=torch.float64)
        if dtype == "bool":
            m = m != 0
        else:
            m = m.to(getattr(torch, dtype))
        if POISONS[poison] is not None and m.is_floating_point() and m.numel():
            m.view(-1)[m.numel() // 2] = POISONS[poison]
        return (m,)


CALLS: list = []  # (time.monotonic(), interrupt already requested?) per model call started
STATE = {"interrupted_at": None, "log": None}


def _log():
    if STATE["log"]:
        with open(STATE["log"] + ".tmp", "w") as f:
            json.dump({"calls": [c[0] for c in CALLS], "interrupt": STATE["interrupted_at"]}, f)
        os.replace(STATE["log"] + ".tmp", STATE["log"])


def watch_interrupts():
    """Record when ComfyUI receives an interrupt (POST /interrupt, Cancel): wraps
    comfy.model_management.interrupt_current_processing, which the server's handler calls."""
    import comfy.model_management as mm

    if getattr(mm.interrupt_current_processing, "_watched", False):
        return
    original = mm.interrupt_current_processing

    def interrupt_current_processing(value=True):
        if value and STATE["interrupted_at"] is None:
            STATE["interrupted_at"] = time.monotonic()
            _log()
        return original(value)

    interrupt_current_processing._watched = True
    mm.interrupt_current_processing = interrupt_current_processing


_lock = threading.Lock()


class RelCountedModel:
    """A clone of MODEL whose every model call is counted (start time kept). At call number
    `act_at` (1-based; 0 = never) it either requests an interrupt, as if the user pressed
    Cancel during that call, or raises (a failure in the middle of a node's work)."""

    CATEGORY = "_tests"
    FUNCTION = "wrap"
    RETURN_TYPES = ("MODEL",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "act_at": ("INT", {"default": 0, "min": 0, "max": 100000}),
                             "action": (["interrupt", "raise"],), "log": ("STRING", {"default": ""})}}

    @classmethod
    def IS_CHANGED(cls, **kwargs):
        return float("nan")  # never cached: each prompt counts its own calls (and reruns what follows)

    def wrap(self, model, act_at, action, log):
        import comfy.model_management as mm

        CALLS.clear()
        STATE["interrupted_at"] = None
        STATE["log"] = log or None
        watch_interrupts()
        _log()
        m = model.clone()

        def counted(apply_model, args):
            with _lock:
                CALLS.append((time.monotonic(), STATE["interrupted_at"] is not None))
                n = len(CALLS)
            _log()
            if n == act_at:
                if action == "raise":
                    raise RuntimeError("injected failure in the middle of the node's work")
                mm.interrupt_current_processing(True)
            return apply_model(args["input"], args["timestep"], **args["c"])

        m.set_model_unet_function_wrapper(counted)
        return (m,)


# Named TEST_NODES, not NODE_CLASS_MAPPINGS: ComfyUI-Manager's scanner would list them as the pack's own.
TEST_NODES = {"RelProbe": RelProbe, "RelNumber": RelNumber, "RelLatent": RelLatent, "RelMask": RelMask, "RelCountedModel": RelCountedModel}
