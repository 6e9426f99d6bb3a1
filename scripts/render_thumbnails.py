"""Thumbnails for ComfyUI's template browser: example_workflows/<template>.jpg beside <template>.json (the name
the frontend asks a pack for: /api/workflow_templates/<pack>/<template>.jpg, 1.32.9 and 1.58.1 alike).

Each demo template runs as shipped on the embedded demo model (ComfyUI's own executor); its thumbnail is the
input (with the drag arrows for a drag), then what it saved, SDE before ODE. A real-checkpoint template's
thumbnail is its own input: the shipped photograph at the template's size, its painted mask tinted, the drag's
arrows, and what the template loads and runs (no SD1.5/SDXL/Flux weights exist here, so no result is shown).

    flock /tmp/sde-heavy.lock .venv/bin/python scripts/render_thumbnails.py [04 ...]
"""
from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import repo_path  # noqa: E402,F401  (the repository root)

from build_workflows import CASE, DEMO_WORKFLOWS, OUT, REAL_WORKFLOWS  # noqa: E402
from run_demo import draw_points, run_workflow, upscale  # noqa: E402

TILE, PANELS = 256, 3  # three 256 px tiles: about 25 kB of JPEG per template
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


def real_thumbnail(name: str):
    """The template's own input (photograph resized as its ImageScale does, painted mask tinted, drag arrows)
    beside what it loads and runs."""
    import numpy as np
    from PIL import Image, ImageDraw

    from build_workflows import PICTURE

    with open(os.path.join(OUT, name + ".json"), encoding="utf-8") as f:
        nodes = json.load(f)["nodes"]
    kinds = {}
    for n in nodes:
        kinds.setdefault(n["type"], []).append(n)
    width, height = kinds["ImageScale"][0]["widgets_values"][1:3]
    with Image.open(os.path.join(ROOT, "example_pictures", PICTURE)) as im:
        rgba = im.convert("RGBA")
    # RGB and alpha apart: PIL resizes RGBA premultiplied, which blackens the painted (alpha 0) region
    pixels = np.asarray(_center_fit(rgba.convert("RGB"), width, height), dtype=np.float32) / 255.0
    editable = np.asarray(_center_fit(rgba.getchannel("A"), width, height)) < 128
    pixels[editable] = 0.7 * pixels[editable] + 0.3 * np.array([0.2, 0.5, 1.0])
    scale = TILE / height
    tile_w = round(width * scale)
    pairs = []
    for points in kinds.get("SDEDragPoints", []):
        pairs += json.loads(points["widgets_values"][0])["points"]
    small = Image.fromarray((pixels * 255).astype(np.uint8)).resize((tile_w, TILE), Image.LANCZOS)
    tile = draw_points(np.asarray(small, dtype=np.float32) / 255.0, [((sx * scale, sy * scale), (tx * scale, ty * scale))
                                                                     for (sx, sy), (tx, ty) in pairs], k=1)
    sheet = Image.new("RGB", (TILE * PANELS, TILE), (24, 24, 24))
    sheet.paste(tile, (0, 0))
    loaders = [v for kind in ("CheckpointLoaderSimple", "UNETLoader", "DualCLIPLoader", "VAELoader")
               for n in kinds.get(kind, []) for v in n["widgets_values"] if isinstance(v, str) and "." in v]
    lines = [name[3:], "", f"input: the shipped photograph at {width}x{height}", "blue: its painted mask (may change)"]
    if pairs:
        lines.append(f"arrows: {len(pairs)} drag point pair(s)")
    lines += ["", "loads:"] + [f"  {v}" for v in loaders]
    for node in kinds.get("SDEDragAllInOne", []):
        values = dict(zip(("method", "steps", "t0", "cfg", "step_size", "r"), node["widgets_values"]))
        lines += ["", "drag: " + ", ".join(f"{k} {v}" for k, v in values.items())]
    lines += ["", "(no result: the weights are yours to load)"]
    draw = ImageDraw.Draw(sheet)
    draw.multiline_text((tile_w + 14, 14), "\n".join(lines), fill=(235, 235, 235), spacing=4)
    return sheet


def _center_fit(image, width, height):
    """ImageScale with crop "center": crop to the target's aspect, centred, then scale."""
    w, h = image.size
    if w * height > width * h:
        kept = round(h * width / height)
        image = image.crop(((w - kept) // 2, 0, (w - kept) // 2 + kept, h))
    else:
        kept = round(w * height / width)
        image = image.crop((0, (h - kept) // 2, w, (h - kept) // 2 + kept))
    from PIL import Image

    return image.resize((width, height), Image.LANCZOS)


def main(only: list[str]) -> None:
    from harness.comfy_host import ComfyHost

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
        if not only or name[:2] in only:
            made[name] = real_thumbnail(name)
    for name, sheet in made.items():
        sheet.save(os.path.join(OUT, name + ".jpg"), quality=85)
    print(json.dumps({n: os.path.getsize(os.path.join(OUT, n + ".jpg")) for n in made}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])  # template numbers ("04 11") to render only those; none: all
