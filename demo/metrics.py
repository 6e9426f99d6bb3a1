"""Drag metrics on the demo scenes, from pixels only (numpy).

The object is found by colour: pixels within `tol` (max-abs over RGB, after shading is
normalised away by comparing chromaticity and value separately) of the object's colour.
"""
from __future__ import annotations

import numpy as np


def object_mask(image: np.ndarray, rgb, tol: float = 0.22) -> np.ndarray:
    """Pixels whose chromaticity is that of `rgb` (shading changes brightness, not hue)."""
    img = np.asarray(image, dtype=np.float64)
    ref = np.asarray(rgb, dtype=np.float64)
    chroma = img / (img.sum(-1, keepdims=True) + 1e-6)
    ref_chroma = ref / (ref.sum() + 1e-6)
    close = np.abs(chroma - ref_chroma).max(-1) < tol / 3
    bright = img.max(-1) > 0.25 * ref.max()
    return close & bright


def centroid(mask: np.ndarray):
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (float("nan"), float("nan"))
    return (float(xs.mean()), float(ys.mean()))


def disc(shape, center, radius) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return (xx - center[0]) ** 2 + (yy - center[1]) ** 2 <= radius ** 2


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    diff = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    if where is not None:
        diff = diff[where]
    mse = float(diff.mean())
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def drag_report(result, reference, rgb, source, target, extent: float) -> dict:
    """Centroid error to the target (px), share of the object left at the source, area ratio,
    and background PSNR (dB) against `reference` away from both positions."""
    before = object_mask(reference, rgb)
    after = object_mask(result, rgb)
    at_source_before = (before & disc(before.shape, source, extent)).sum()
    left = float((after & disc(after.shape, source, extent) & ~disc(after.shape, target, extent)).sum()
                 / max(at_source_before, 1))
    c = centroid(after)
    away = ~(disc(after.shape, source, extent + 3) | disc(after.shape, target, extent + 3))
    return {
        "centroid_error_px": float(np.hypot(c[0] - target[0], c[1] - target[1])),
        "left_at_source": left,
        "area_ratio": float(after.sum() / max(before.sum(), 1)),
        "background_psnr_db": psnr(result, reference, away),
    }
