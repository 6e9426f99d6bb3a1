"""Write the bundled demo cases (DragBench layout) into demo/cases/. Deterministic.

    .venv/bin/python -m demo.make_cases
"""
from __future__ import annotations

import json
import os

import numpy as np

from demo import scenes

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = {  # name: (seed, shape, colour, radius, source centroid, drag vector in pixels)
    "red_disc_right": (11, "disc", "red", 9.0, (22.0, 30.0), (16, 0)),
    "blue_square_down": (12, "square", "blue", 9.0, (34.0, 20.0), (0, 16)),
    "yellow_triangle_diagonal": (13, "triangle", "yellow", 9.0, (22.0, 22.0), (14, 14)),
}


def editable_mask(source, target, extent, size=scenes.IMAGE_SIZE, margin=4.0):
    """1 inside the box that holds the object at both positions (plus a margin)."""
    lo = np.minimum(source, target) - extent - margin
    hi = np.maximum(source, target) + extent + margin
    yy, xx = np.mgrid[0:size, 0:size]
    return ((xx >= lo[0]) & (xx <= hi[0]) & (yy >= lo[1]) & (yy <= hi[1])).astype(np.float32)


def build_case(name):
    seed, shape, colour, radius, source, vector = CASES[name]
    params = scenes.sample_params(seed, shape=shape, colour=colour, radius=radius, centroid=source)
    image, meta = scenes.render_scene(params)
    src = np.array(meta["centroid"])
    tgt = src + np.array(vector, dtype=float)
    mask = editable_mask(src, tgt, scenes.shape_extent(shape, radius))
    pairs = [(np.round(src, 1).tolist(), np.round(tgt, 1).tolist())]
    return image, mask, pairs, meta["prompt"], params


def write_case(folder, image, mask, pairs, prompt):
    """The DragBench layout: origin_image.png, mask.png (white = editable), prompt.json."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(os.path.join(folder, "origin_image.png"))
    Image.fromarray(((mask > 0.5) * 255).astype(np.uint8)).save(os.path.join(folder, "mask.png"))
    with open(os.path.join(folder, "prompt.json"), "w", encoding="utf-8") as f:
        json.dump({"prompt": prompt, "source": [s for s, _ in pairs], "target": [t for _, t in pairs]}, f, indent=1)


if __name__ == "__main__":
    for case in CASES:
        image, mask, pairs, prompt, params = build_case(case)
        write_case(os.path.join(HERE, "cases", case), image, mask, pairs, prompt)
        print(case, prompt, pairs)
