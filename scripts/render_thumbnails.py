"""Thumbnails for ComfyUI's template browser: example_workflows/<template>.jpg beside <template>.json (the name
the frontend asks a pack for: /api/workflow_templates/<pack>/<template>.jpg, 1.32.9 and 1.58.1 alike).

Each demo template runs as shipped on the embedded demo model (ComfyUI's own executor); its thumbnail is the
input (with the drag arrows for a drag), then what it saved, SDE before ODE. A real-checkpoint template shows the run of its demo
counterpart, captioned as such (no SD1.5/SDXL/Flux weights exist here).

    flock /tmp/sde-heavy.lock .venv/bin/python scripts/render_thumbnails.py [04 ...]
"""
from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "scripts")]
sys.path.append(os.path.join(ROOT, "tests"))

from build_workflows import CASE, DEMO_WORKFLOWS, OUT, REAL_WORKFLOWS  # noqa: E402
from run_demo import draw_points, read_png, run_workflow, upscale  # noqa: E402

TILE, PANELS = 256, 3  # three 256 px tiles: about 25 kB of JPEG per template
# The demo template whose run stands for each real-checkpoint one, and the caption saying so.
STAND_IN = {
    "11 SD1.5 - SDE-Drag with the paper presets": "01 Demo - SDE-Drag - click points on the picture",
    "12 SD1.5 - SDE-Drag with identity LoRA": "05 Demo - SDE-Drag with identity LoRA",
    "13 SD1.5 - SDE vs ODE image-to-image and inpainting": "04 Demo - SDE vs ODE inpainting",
    "14 SDXL - SDE-Drag at 1024x1024": "01 Demo - SDE-Drag - click points on the picture",
    "15 Flux dev - SDE-Drag on a rectified-flow model": "01 Demo - SDE-Drag - click points on the picture",
    "16 SD1.5 - SDE-Drag fast preset": "01 Demo - SDE-Drag - click points on the picture",
}


def first_frame(path):
    """The first frame of a saved PNG or animated WebP, as floats in [0, 1]."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        im.seek(0)
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def thumbnail(input_tile, results: list, caption: str | None = None):
    from PIL import Image, ImageDraw

    tiles = [input_tile] + [upscale(r, TILE // r.shape[1]) for r in results][: PANELS - 1]
    sheet = Image.new("RGB", (TILE * len(tiles), TILE), (24, 24, 24))
    for i, tile in enumerate(tiles):
        sheet.paste(tile.resize((TILE, TILE), Image.NEAREST), (i * TILE, 0))
    if caption:
        draw = ImageDraw.Draw(sheet)
        draw.rectangle([0, TILE - 22, sheet.width, TILE], fill=(0, 0, 0))
        draw.text((8, TILE - 17), caption, fill=(255, 255, 255))
    return sheet


def main(only: list[str]) -> None:
    from comfy_host import ComfyHost

    host = ComfyHost()
    cases = host.module("nodes.dragbench")
    image, _, points, _ = cases.read_case(cases.find_case(CASE))
    arrows = draw_points(image[0].numpy(), points.pairs, k=TILE // image.shape[2])  # for the drags
    plain = upscale(image[0].numpy(), TILE // image.shape[2])
    made, frames = {}, {}
    for name in DEMO_WORKFLOWS:
        if only and name[:2] not in only:
            continue
        files = run_workflow(host, name + ".json")
        # results in the order the template saves them; animations after pictures
        paths = sorted((p for ps in files.values() for p in ps),
                       key=lambda p: (p.endswith(".webp"), "ode" in os.path.basename(p), p))  # SDE first
        frames[name] = [first_frame(p) for p in paths]
        made[name] = thumbnail(arrows if "Drag" in name else plain, frames[name])
        print(name, "<-", [os.path.basename(p) for p in paths], flush=True)
    for name in REAL_WORKFLOWS:
        demo = STAND_IN[name]
        if demo not in frames:
            continue
        made[name] = thumbnail(arrows if "Drag" in name else plain, frames[demo], caption=f"shown: the same edit on the 64x64 demo model ({demo[:2]})")
    for name, sheet in made.items():
        sheet.save(os.path.join(OUT, name + ".jpg"), quality=85)
    print(json.dumps({n: os.path.getsize(os.path.join(OUT, n + ".jpg")) for n in made}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])  # template numbers ("04 11") to render only those; none: all
