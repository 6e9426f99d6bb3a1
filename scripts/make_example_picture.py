"""Writes example_pictures/sde_drag_coffee.png: scikit-image's `coffee` photograph (CC0, Rachel
Michetti; skimage/data/coffee.png, 600x400) with the editable region painted into its alpha
channel the way ComfyUI's MaskEditor paints it (alpha 0 = masked; Load Image's MASK is
1 - alpha, so the region around the spoon and the room it is dragged into is 1).

    .venv/bin/python scripts/make_example_picture.py path/to/coffee.png

The shipped file is the output; scikit-image is not a dependency (take coffee.png from its wheel).
"""
from __future__ import annotations

import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "example_pictures", "sde_drag_coffee.png")
EDITABLE = (300, 50, 520, 350)  # x0, y0, x1, y1 in the 600x400 photograph: the spoon and where it goes


def main(source: str) -> None:
    with Image.open(source) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert rgb.shape == (400, 600, 3), rgb.shape
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    x0, y0, x1, y1 = EDITABLE
    alpha[y0:y1, x0:x1] = 0
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(OUT, optimize=True)
    print("wrote", os.path.relpath(OUT, ROOT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main(sys.argv[1])
