"""Seeded generator of the demo model's 64x64 scenes (numpy/torch only, no ComfyUI).

A scene is a smooth two-colour background with low-frequency variation and a fine
luminance texture, plus one shaded, textured object (disc, square or triangle) in a
saturated colour from a small palette, at a random position, size and rotation.

Every scene is fully described by a JSON-serialisable ``params`` dict; rendering is a
deterministic function of it, so :func:`render_scene` can re-render the same scene with
the object moved to another centroid (the ground truth of a drag): the background, the
object's colour, shading, texture, size and rotation stay the same; only the object
moves (its shading and texture move with it).

Public API
----------
- ``COLOURS`` (name -> RGB), ``SHAPES``, ``VOCABULARY``, ``IMAGE_SIZE``
- ``sample_params(rng_or_seed) -> params``
- ``render_scene(params, centroid=None) -> (image [H,W,3] float32 in [0,1], meta)``
- ``generate_scene(seed) -> (image, meta)``
- ``generate_batch(rng_or_seed, n) -> (images torch [n,3,H,W] in [0,1], metas)``
- ``prompt_for(meta_or_params) -> "red disc"``

``meta`` holds ``shape``, ``colour``, ``prompt``, ``mask`` (bool [H,W], alpha >= 0.5),
``alpha`` (float [H,W] coverage), ``centroid`` ((x, y) in pixels, x = column, y = row,
pixel centres at integer coordinates, alpha-weighted), ``area`` (pixels, sum of alpha)
and ``params``.
"""

from __future__ import annotations

import copy
import math
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F

IMAGE_SIZE = 64

# Saturated object palette (the backgrounds are desaturated, see _sample_bg_colour).
COLOURS = {
    "red": (0.92, 0.10, 0.10),
    "green": (0.12, 0.78, 0.18),
    "blue": (0.12, 0.28, 0.95),
    "yellow": (0.96, 0.86, 0.08),
    "magenta": (0.92, 0.12, 0.85),
    "cyan": (0.08, 0.85, 0.90),
    "orange": (1.00, 0.50, 0.04),
    "purple": (0.50, 0.14, 0.86),
}
SHAPES = ("disc", "square", "triangle")
VOCABULARY = tuple(COLOURS) + SHAPES

RADIUS_RANGE = (7.0, 13.0)      # size parameter r in pixels
SQUARE_HALF = 0.886             # square half-side / r (equal area to a disc of radius r)
TRIANGLE_CIRCUM = 1.35          # equilateral triangle circumradius / r
BG_LOWFREQ_GRID = 5
BG_TEX_GRID = 16


def _rng(rng_or_seed) -> np.random.Generator:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(rng_or_seed)


def _hsv_to_rgb(h, s, v):
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def _sample_bg_colour(rng):
    return [float(c) for c in _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.05, 0.40), rng.uniform(0.30, 0.90))]


def shape_extent(shape: str, r: float) -> float:
    """Largest distance from the object's centre to its outline (pixels)."""
    if shape == "disc":
        return r
    if shape == "square":
        return r * SQUARE_HALF * math.sqrt(2.0)
    return r * TRIANGLE_CIRCUM


def sample_params(rng_or_seed=None, shape: str | None = None, colour: str | None = None,
                  radius: float | None = None, centroid: Iterable[float] | None = None) -> dict:
    """Draw the parameters of one random scene (optionally fixing shape, colour, size, position)."""
    rng = _rng(rng_or_seed)
    p = {}
    c1 = _sample_bg_colour(rng)
    c2 = _sample_bg_colour(rng)
    p["bg_c1"], p["bg_c2"] = c1, c2
    p["bg_angle"] = float(rng.uniform(0, 2 * math.pi))
    p["bg_grad"] = float(rng.uniform(0.3, 1.0))
    p["bg_lowfreq"] = rng.standard_normal((BG_LOWFREQ_GRID, BG_LOWFREQ_GRID)).round(4).tolist()
    p["bg_lowfreq_amp"] = float(rng.uniform(0.10, 0.30))
    p["bg_tex"] = rng.standard_normal((BG_TEX_GRID, BG_TEX_GRID)).round(4).tolist()
    p["bg_tex_amp"] = float(rng.uniform(0.02, 0.06))

    shape_i = int(rng.integers(len(SHAPES)))
    colour_i = int(rng.integers(len(COLOURS)))
    p["shape"] = shape if shape is not None else SHAPES[shape_i]
    p["colour"] = colour if colour is not None else list(COLOURS)[colour_i]
    base = np.array(COLOURS[p["colour"]])
    p["obj_rgb"] = np.clip(base + rng.uniform(-0.05, 0.05, 3), 0.0, 1.0).round(4).tolist()
    r = float(rng.uniform(*RADIUS_RANGE))
    p["radius"] = float(radius) if radius is not None else r
    p["angle"] = float(rng.uniform(0, 2 * math.pi))
    ext = shape_extent(p["shape"], p["radius"])
    lo, hi = ext + 1.0, IMAGE_SIZE - 1.0 - ext - 1.0
    cxy = [float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))]
    p["center"] = [float(v) for v in centroid] if centroid is not None else cxy
    p["light_angle"] = float(rng.uniform(0, 2 * math.pi))
    p["shade"] = float(rng.uniform(0.15, 0.30))
    p["ambient"] = float(rng.uniform(0.40, 0.55))
    p["tex_kind"] = "stripes" if rng.uniform() < 0.5 else "checker"
    p["tex_period"] = float(rng.uniform(5.0, 9.0))
    p["tex_angle"] = float(rng.uniform(0, math.pi))
    p["tex_phase"] = [float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 2 * math.pi))]
    p["tex_amp"] = float(rng.uniform(0.06, 0.14))
    return p


def _up(grids: torch.Tensor, mode: str) -> torch.Tensor:
    return F.interpolate(grids[:, None], size=(IMAGE_SIZE, IMAGE_SIZE), mode=mode, align_corners=True)[:, 0]


def render_batch(params_list: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    """Render scenes: returns (images [n,3,H,W] float32 in [0,1], alpha [n,H,W])."""
    n = len(params_list)
    t = lambda key: torch.tensor([p[key] for p in params_list], dtype=torch.float32)
    H = W = IMAGE_SIZE
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    xx, yy = xx[None], yy[None]
    v3 = lambda x: x[:, :, None, None]          # [n,3] -> [n,3,1,1]
    v1 = lambda x: x[:, None, None]             # [n] -> [n,1,1]

    # background
    ang = t("bg_angle")
    proj = ((xx - (W - 1) / 2) * v1(torch.cos(ang)) + (yy - (H - 1) / 2) * v1(torch.sin(ang))) / (W / 2)
    lowf = _up(t("bg_lowfreq"), "bicubic")
    mix = (0.5 + 0.5 * v1(t("bg_grad")) * proj + v1(t("bg_lowfreq_amp")) * lowf).clamp(0, 1)
    c1, c2 = t("bg_c1"), t("bg_c2")
    bg = v3(c1) + (v3(c2) - v3(c1)) * mix[:, None]
    tex = _up(t("bg_tex"), "bicubic")
    bg = bg * (1.0 + v1(t("bg_tex_amp")) * tex)[:, None]

    # object geometry in its own frame
    center = t("center")
    dx, dy = xx - v1(center[:, 0]), yy - v1(center[:, 1])
    th = t("angle")
    cth, sth = v1(torch.cos(th)), v1(torch.sin(th))
    u = cth * dx + sth * dy
    v = -sth * dx + cth * dy
    r = v1(t("radius"))
    sdf_disc = torch.sqrt(u * u + v * v) - r
    h = r * SQUARE_HALF
    qx, qy = u.abs() - h, v.abs() - h
    sdf_sq = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2) + torch.maximum(qx, qy).clamp(max=0)
    R = r * TRIANGLE_CIRCUM
    sdf_tri = None
    for k in range(3):
        a = math.pi / 2 + 2 * math.pi * k / 3
        d = u * math.cos(a) + v * math.sin(a) - R / 2
        sdf_tri = d if sdf_tri is None else torch.maximum(sdf_tri, d)
    kind = torch.tensor([SHAPES.index(p["shape"]) for p in params_list])
    sdf = torch.where(v1(kind == 0), sdf_disc, torch.where(v1(kind == 1), sdf_sq, sdf_tri))
    alpha = (0.5 - sdf).clamp(0, 1)

    # shading: spherical for the disc, a linear ramp for the flat shapes
    la = t("light_angle")
    lx, ly = v1(torch.cos(la)), v1(torch.sin(la))
    amb = v1(t("ambient"))
    nz = (1 - (dx * dx + dy * dy) / (r * r)).clamp(min=0).sqrt()
    lz = 0.8
    norm = math.sqrt(1 + lz * lz)
    ndotl = ((dx / r) * lx + (dy / r) * ly + nz * lz) / norm
    shade_disc = amb + (1.15 - amb) * ndotl.clamp(min=0)
    shade_flat = 1.0 + v1(t("shade")) * ((dx * lx + dy * ly) / r).clamp(-1.5, 1.5) - 0.05
    shade = torch.where(v1(kind == 0), shade_disc, shade_flat)

    # texture in the object's frame
    ta = t("tex_angle")
    ca, sa = v1(torch.cos(ta)), v1(torch.sin(ta))
    a_ = ca * u + sa * v
    b_ = -sa * u + ca * v
    P = v1(t("tex_period"))
    ph = t("tex_phase")
    s1 = torch.sin(2 * math.pi * a_ / P + v1(ph[:, 0]))
    s2 = torch.sin(2 * math.pi * b_ / P + v1(ph[:, 1]))
    checker = torch.tensor([p["tex_kind"] == "checker" for p in params_list])
    pattern = torch.where(v1(checker), s1 * s2, s1)
    texm = 1.0 + v1(t("tex_amp")) * pattern
    obj = v3(t("obj_rgb")) * (shade * texm)[:, None]

    img = bg * (1 - alpha[:, None]) + obj * alpha[:, None]
    return img.clamp(0, 1), alpha


def _meta(params: dict, alpha: np.ndarray) -> dict:
    H, W = alpha.shape
    yy, xx = np.mgrid[0:H, 0:W]
    area = float(alpha.sum())
    cx = float((alpha * xx).sum() / max(area, 1e-8))
    cy = float((alpha * yy).sum() / max(area, 1e-8))
    return {
        "shape": params["shape"],
        "colour": params["colour"],
        "prompt": prompt_for(params),
        "mask": alpha >= 0.5,
        "alpha": alpha,
        "centroid": (cx, cy),
        "area": area,
        "params": params,
    }


def render_scene(params: dict, centroid: Iterable[float] | None = None):
    """Render one scene; with ``centroid=(x, y)`` the object is moved there (the background,
    colour, size, rotation, shading and texture are unchanged). Returns (image [H,W,3]
    float32 in [0,1], meta)."""
    p = copy.deepcopy(params)
    if centroid is not None:
        p["center"] = [float(c) for c in centroid]
    img, alpha = render_batch([p])
    return img[0].permute(1, 2, 0).numpy().astype(np.float32), _meta(p, alpha[0].numpy())


def generate_scene(seed=None, **fixed):
    """A fresh random scene from ``seed`` (int or numpy Generator): (image, meta)."""
    return render_scene(sample_params(seed, **fixed))


def generate_batch(rng_or_seed, n: int, with_meta: bool = False):
    """``n`` fresh scenes as a torch batch [n,3,H,W] in [0,1] and their params (or metas)."""
    rng = _rng(rng_or_seed)
    params = [sample_params(rng) for _ in range(n)]
    img, alpha = render_batch(params)
    if with_meta:
        return img, [_meta(p, a) for p, a in zip(params, alpha.numpy())]
    return img, params


def prompt_for(meta: dict) -> str:
    """The prompt in the demo model's vocabulary, e.g. ``"red disc"``."""
    return f"{meta['colour']} {meta['shape']}"


if __name__ == "__main__":  # quick look: python demo/scenes.py /tmp/scenes.png
    import sys
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/demo_scenes.png"
    imgs, metas = generate_batch(0, 32, with_meta=True)
    grid = imgs.view(4, 8, 3, 64, 64).permute(0, 3, 1, 4, 2).reshape(4 * 64, 8 * 64, 3)
    arr = (grid.numpy() * 255).round().astype(np.uint8)
    try:
        from PIL import Image
        Image.fromarray(arr).resize((8 * 64 * 2, 4 * 64 * 2), Image.NEAREST).save(out)
    except ImportError:
        np.save(out + ".npy", arr)
    print(out, [m["prompt"] for m in metas[:8]])
