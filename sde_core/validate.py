"""Input checks, called once at the public entry points (never inside a step).

Every failure is a ``ValueError`` whose message names the argument, what was received,
what is allowed, and how to fix it.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "check_t0",
    "check_eta",
    "check_steps",
    "check_sigmas",
    "check_points",
    "check_mask",
    "check_points_in_mask",
    "check_latent",
]


def check_t0(t0) -> float:
    """``t0`` is the edit time as a fraction of the schedule: a finite number in (0, 1]."""
    try:
        value = float(t0)
    except (TypeError, ValueError):
        raise ValueError(f"t0 must be a number in (0, 1], got {t0!r}.") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(
            f"t0 must be in (0, 1] (the edit time as a fraction of the schedule), got {t0!r}; "
            f"the paper uses 0.6."
        )
    return value


def check_eta(eta, ends: str = "1 = the paper's Cycle-SDE step") -> float:
    """``eta`` scales a step's fresh noise: a number in [0, 1]; ``ends`` says what the ends mean
    for the caller (in the error)."""
    if not 0.0 <= float(eta) <= 1.0:
        raise ValueError(f"eta must be in [0, 1] ({ends}), got {eta}.")
    return float(eta)


def check_steps(steps) -> int:
    """``steps`` is a whole number of sampling steps, at least 1."""
    try:
        value = int(steps)
        whole = not isinstance(steps, bool) and value == steps
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}.")
    if value < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}; the paper uses 200.")
    return value


def _show(sigmas: torch.Tensor, limit: int = 8) -> str:
    """The values for an error message, shortened: a schedule can hold thousands."""
    values = sigmas.tolist()
    if len(values) <= limit:
        return str(values)
    head = ", ".join(f"{v:g}" for v in values[: limit // 2])
    tail = ", ".join(f"{v:g}" for v in values[-(limit // 2):])
    return f"[{head}, ... ({len(values) - limit} more) ..., {tail}]"


def check_sigmas(sigmas, ends_at_zero: bool = False) -> torch.Tensor:
    """``sigmas``: 1-D, finite, non-negative, strictly descending, at least two values."""
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1 or len(sigmas) < 2:
        shape = tuple(sigmas.shape) if isinstance(sigmas, torch.Tensor) else type(sigmas).__name__
        raise ValueError(
            f"sigmas must be a 1-D tensor of at least 2 values (a ComfyUI SIGMAS), got {shape}."
        )
    if not torch.isfinite(sigmas).all() or (sigmas < 0).any():
        raise ValueError(f"sigmas must be finite and >= 0, got {_show(sigmas)}.")
    if not (sigmas[1:] < sigmas[:-1]).all():
        raise ValueError(
            "sigmas must be strictly descending (sigmas[0] is the noisiest level), "
            f"got {_show(sigmas)}."
        )
    if ends_at_zero and sigmas[-1] != 0:
        raise ValueError(
            f"sigmas must end at 0 (a full schedule down to the clean latent), "
            f"got last value {sigmas[-1].item()}."
        )
    return sigmas


def _as_points(points, name: str) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(points)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a list of (x, y) points, got {points!r}.") from None
    if tensor.numel() == 0:
        raise ValueError(f"{name} is empty: give at least one (x, y) point.")
    if tensor.ndim == 1 and tensor.shape[0] == 2:
        tensor = tensor[None]
    if tensor.ndim != 2 or tensor.shape[1] != 2:
        raise ValueError(
            f"{name} must have shape [P, 2] ((x, y) per point), got {tuple(tensor.shape)}."
        )
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float64)
    return tensor


def check_points(sources, targets, height: int, width: int):
    """Drag points in latent cells: same non-zero count, finite, inside [0, W) x [0, H).

    Returns ``(sources, targets)`` as float tensors of shape ``[P, 2]`` (x, y).
    """
    src = _as_points(sources, "sources")
    tgt = _as_points(targets, "targets")
    if src.shape[0] != tgt.shape[0]:
        raise ValueError(
            f"sources and targets must pair up one to one, got {src.shape[0]} sources and "
            f"{tgt.shape[0]} targets; add or remove points so the counts match."
        )
    for name, pts in (("sources", src), ("targets", tgt)):
        for index, (x, y) in enumerate(pts.tolist()):
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError(f"{name}[{index}] = ({x}, {y}) is not finite.")
            if not (0 <= x < width and 0 <= y < height):
                raise ValueError(
                    f"{name}[{index}] = ({x:g}, {y:g}) (pair {index}) lies outside the latent: "
                    f"x must be in [0, {width}) and y in [0, {height}) latent cells. Points "
                    f"are in latent cells: divide image pixels by the downscale factor "
                    f"(8 for SD) and keep them inside the image."
                )
    return src, tgt


def check_latent(x) -> torch.Tensor:
    """``latent``: a finite 4-D tensor ``[B, C, H, W]``."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"latent must be a 4-D tensor [B, C, H, W], got {shape}.")
    if not torch.isfinite(x).all():
        raise ValueError("latent contains NaN or infinite values.")
    return x


def check_mask(mask, latent_shape, name: str = "mask") -> torch.Tensor:
    """``mask`` (1 = editable, 0 = keep) as ``[B or 1, 1 or C, H, W]``: the one check of a mask,
    for the samplers and (after ``nodes/masks.py`` has resized a ComfyUI MASK) for the nodes.

    Accepts ``[H, W]``, ``[1, H, W]``, ``[B, H, W]``, ``[B, 1, H, W]`` and ``[B, C, H, W]``;
    ``H, W`` must equal the latent's (resize the mask to the latent first), ``B`` be 1 or the
    latent's, every value finite. ``name`` is the input the messages name.
    """
    batch, channels, height, width = tuple(latent_shape)
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(mask).__name__}.")
    shape = tuple(mask.shape)
    if mask.ndim == 2:
        mask = mask[None, None]
    elif mask.ndim == 3:
        mask = mask[:, None]
    if mask.ndim != 4 or mask.shape[-2:] != (height, width) or mask.shape[1] not in (1, channels):
        raise ValueError(
            f"{name} of shape {shape} cannot broadcast to the latent of shape {tuple(latent_shape)}; "
            f"give [H, W], [1, H, W], [B, H, W] or [B, 1, H, W] with H, W = {height}, {width} "
            f"(resize the mask to the latent) and B = 1 or {batch}."
        )
    if mask.shape[0] not in (1, batch):
        raise ValueError(
            f"{name}: a batch of {mask.shape[0]} masks (shape {shape}) for a latent batch of {batch}; "
            f"give 1 mask or {batch}."
        )
    if not torch.isfinite(mask).all():
        raise ValueError(f"{name} contains NaN or infinite values; a mask holds values in [0, 1].")
    check_something_editable(mask, name)
    return mask


NOTHING_EDITABLE_FIX = ("paint the region to edit in MaskEditor (right-click Load Image > Open in MaskEditor), "
                        "or disconnect the mask to make the whole image editable")


def check_something_editable(mask, name: str = "mask") -> None:
    """A mask (1 = editable) with no value above 0 in some batch element leaves nothing to edit: the
    output would equal the input after all the compute, so it is refused. (Load Image gives a 64x64
    all-zero MASK for a picture without alpha, and a full-size one for a fully opaque PNG.)"""
    if mask.numel() == 0:  # (reshape below cannot infer -1 from 0 elements)
        raise ValueError(f"{name} is empty (shape {tuple(mask.shape)}): give a mask of the image's or the latent's "
                         "size, or disconnect it to make the whole image editable.")
    flat = mask.reshape(mask.shape[0], -1) if mask.ndim > 1 else mask.reshape(1, -1)
    empty = [b for b in range(flat.shape[0]) if not bool((flat[b] > 0).any())]
    if empty:
        which = "" if flat.shape[0] == 1 else f" (batch element {empty[0]})"
        raise ValueError(f"{name}: nothing is editable (the mask is all zero{which}): {NOTHING_EDITABLE_FIX}.")


def check_points_in_mask(sources, targets, mask, name: str = "mask") -> None:
    """Every source and target cell (x, y) = floor of the point must have ``mask > 0`` (editable) in
    every batch element: outside the mask the samplers keep the recorded latent, so a drag from or to
    a kept cell moves nothing there. ``mask`` is ``check_mask``'s ``[B, 1 or C, H, W]``."""
    region = mask.amax(dim=1).amin(dim=0)  # [H, W]: editable for every batch element, in any channel
    height, width = region.shape
    for role, points in (("source", sources), ("target", targets)):
        for index, (x, y) in enumerate(torch.as_tensor(points).tolist()):
            col, row = min(max(int(math.floor(x)), 0), width - 1), min(max(int(math.floor(y)), 0), height - 1)
            if not float(region[row, col]) > 0:
                raise ValueError(
                    f"{name}: the {role} point of pair {index + 1}, latent cell ({col}, {row}), lies outside the "
                    f"editable region (the mask is 0 there), so the drag cannot move it: paint the mask over both "
                    f"points of every pair in MaskEditor, move the point into the painted region, or disconnect "
                    f"the mask to make the whole image editable."
                )
