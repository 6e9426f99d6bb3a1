"""ComfyUI custom nodes for `scripts/eval_dragbench.py`: measurements taken inside the server that runs
each case (model calls, peak memory, the latent's change outside the mask, finiteness). Put (or link)
this folder in ComfyUI/custom_nodes/ of every server the batch run uses; the script's own servers get it.
Plain ComfyUI node classes, no import of the pack (its folder name differs between installs)."""
from __future__ import annotations

import json
import threading

import torch

CALLS = {"n": 0}
_lock = threading.Lock()


def _reset_peak_memory() -> None:
    try:  # Linux: "5" resets the process's peak resident set size (VmHWM)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_memory() -> dict:
    peak = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak["peak_rss_mib"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    if torch.cuda.is_available():
        peak["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return peak


class SDEDragEvalCount:
    """A clone of MODEL whose model calls are counted; resets the count and the peak-memory marks."""
    CATEGORY = "_sde_drag_eval"
    FUNCTION = "wrap"
    RETURN_TYPES = ("MODEL",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "label": ("STRING", {"default": ""})}}

    @classmethod
    def IS_CHANGED(cls, **kwargs):
        return float("nan")  # never cached: each case counts its own calls

    def wrap(self, model, label):
        CALLS["n"] = 0
        _reset_peak_memory()
        m = model.clone()

        def counted(apply_model, args):
            with _lock:
                CALLS["n"] += 1
            return apply_model(args["input"], args["timestep"], **args["c"])

        m.set_model_unet_function_wrapper(counted)
        return (m,)


def _region(mask: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """MASK [B?, H, W] -> [h, w] editable share per latent cell, cropped as VAE Encode crops."""
    m = mask.float()
    m = m.reshape(-1, *m.shape[-2:])[0]
    f = max(1, m.shape[-1] // w)
    top, left = (m.shape[0] - h * f) // 2, (m.shape[1] - w * f) // 2
    m = m[top:top + h * f, left:left + w * f]
    return torch.nn.functional.avg_pool2d(m[None, None], f)[0, 0] if f > 1 else m


class SDEDragEvalReport:
    """The case's figures, as a UI output the batch script reads from /history."""
    CATEGORY = "_sde_drag_eval"
    FUNCTION = "report"
    RETURN_TYPES = ()
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"before": ("LATENT",), "after": ("LATENT",), "mask": ("MASK",),
                             "label": ("STRING", {"default": ""})}}

    def report(self, before, after, mask, label):
        x0, x1 = before["samples"].float(), after["samples"].float()
        region = _region(mask, *x0.shape[-2:])
        outside = (region <= 0).expand_as(x0)
        change = (x1 - x0).abs()
        figures = {"label": label, "model_calls": CALLS["n"], **_peak_memory(),
                   "finite_output": bool(torch.isfinite(x1).all()),
                   "outside_mask_max_change": float(change[outside].max()) if outside.any() else None,
                   "inside_mask_mean_change": float(change[~outside].mean()) if (~outside).any() else None,
                   "latent_shape": list(x1.shape), "editable_share": float((region > 0).float().mean())}
        return {"ui": {"sde_drag_eval": [json.dumps(figures)]}}


class SDEDragEvalImageLatent:
    """IMAGE -> a 4-channel LATENT at 1/8 size without a VAE (cropped as VAE Encode crops; channels
    r, g, b, grey in [-1, 1]): for the test suite's tiny model, which has no VAE."""
    CATEGORY = "_sde_drag_eval"
    FUNCTION = "encode"
    RETURN_TYPES = ("LATENT",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pixels": ("IMAGE",)}}

    def encode(self, pixels):
        b, hh, ww, _ = pixels.shape
        h, w = hh // 8, ww // 8
        top, left = (hh % 8) // 2, (ww % 8) // 2
        x = pixels[:, top:top + h * 8, left:left + w * 8, :3].movedim(-1, 1).float()
        x = torch.nn.functional.avg_pool2d(x, 8) * 2 - 1
        return ({"samples": torch.cat([x, x.mean(1, keepdim=True)], 1).contiguous()},)


# Keyed by class name, not by string literals: ComfyUI-Manager's scanner reads quoted keys of this
# dict anywhere in the repository and would list these evaluation-only nodes as the pack's.
NODE_CLASS_MAPPINGS = {node.__name__: node for node in (SDEDragEvalCount, SDEDragEvalReport, SDEDragEvalImageLatent)}
