"""ComfyUI MASK -> an editable region at latent size, with one rule for every node that takes a mask."""
from __future__ import annotations

import torch

from ..sde_core import check_mask
from ..sde_core.validate import check_something_editable


def mask_sizes(h: int, w: int, factor: int) -> str:
    """The MASK sizes a latent of h x w cells accepts, in words (for errors and docs)."""
    image = f"{w * factor}x{h * factor}"
    if factor == 1:
        return f"the image's size {image}"
    return (f"the image's size {image} (or up to {factor - 1} px more per side, which VAE Encode crops away) "
            f"or the latent's size {w}x{h}")


def check_mask_range(mask: torch.Tensor, name: str = "mask") -> None:
    """A MASK holds values in [0, 1] (1 = editable); clamping a 0..255 mask would make it all editable."""
    finite = mask[torch.isfinite(mask)]
    if finite.numel() and (float(finite.min()) < 0.0 or float(finite.max()) > 1.0):
        raise ValueError(f"{name}: values must lie in [0, 1] (1 = editable), got {float(finite.min()):g} to "
                         f"{float(finite.max()):g}; a 0-255 mask: divide it by 255 (or make it with ComfyUI's mask nodes)")


def mask_for(mask, latent_shape, factor: int, name: str = "mask") -> torch.Tensor | None:
    """ComfyUI MASK [B?, H, W] -> [B or 1, 1, h, w] at latent size (1 = editable); the batch and
    the values are then checked by `sde_core.check_mask`, the one mask check.

    Accepted sizes, nothing else: the latent's (h, w); the image's (h * f, w * f) with `f` the
    model's latent-to-image factor, averaged over each f x f block; an image that is up to f - 1
    px larger, which VAE Encode centre-crops to (h * f, w * f) (ComfyUI's
    `vae_encode_crop_pixels`), so the mask is cropped the same way first.

    The block average is a choice that changes results: a latent cell that a mask edge cuts gets
    a value between 0 and 1, and the samplers' `keep_outside` blends the edited and the recorded
    latent there (a soft edge one cell wide) instead of snapping the cell in or out.
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
    check_something_editable(m, name)  # before the size check: an unpainted Load Image mask is 64x64
    check_mask_range(m, name)
    h, w = latent_shape[-2], latent_shape[-1]
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
    return check_mask(m, latent_shape, name).clamp(0, 1)  # batch and finite values: sde_core's one check
