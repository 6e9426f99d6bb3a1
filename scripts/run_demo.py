"""`make demo`: runs the shipped example workflows on the embedded demo model and writes
output/demo/: the input with its drag arrows, the SDE-Drag result, an SDE vs ODE comparison,
and the drag trajectory as an animated WebP and GIF. Prints the drag metrics.

    .venv/bin/python scripts/run_demo.py [--out output/demo]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKFLOWS = os.path.join(ROOT, "example_workflows")
import repo_path  # noqa: E402,F401  (the repository root)

from demo import metrics  # noqa: E402
from workflow_api import to_api  # noqa: E402

DRAG_WORKFLOW = "01 Demo - SDE-Drag - click points on the picture.json"
COMPARE_WORKFLOW = "02 Demo - SDE-Drag vs ODE-Drag.json"
RECON_WORKFLOW = "07 Demo - Cycle-SDE gives the input back.json"


def load_workflow(name: str) -> dict:
    with open(os.path.join(WORKFLOWS, name), encoding="utf-8") as f:
        return json.load(f)


def run_workflow(host, name: str) -> dict:
    """Execute a shipped UI workflow; returns {save prefix: [file paths]}."""
    import folder_paths
    import nodes

    workflow = load_workflow(name)
    prompt = to_api(workflow, nodes.NODE_CLASS_MAPPINGS)
    result = host.run(prompt)
    if not result.ok:
        raise RuntimeError(f"{name} failed: {result.error_message}")
    files = {}
    for node_id, out in result.outputs.items():
        prefix = prompt[node_id]["inputs"].get("filename_prefix", node_id)
        for item in out.get("images", []):
            base = folder_paths.get_directory_by_type(item.get("type", "output"))
            files.setdefault(prefix, []).append(os.path.join(base, item.get("subfolder", ""), item["filename"]))
    return files


def read_png(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def upscale(img: np.ndarray, k: int = 4):
    from PIL import Image

    arr = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(arr).resize((arr.shape[1] * k, arr.shape[0] * k), Image.NEAREST)


def draw_points(img: np.ndarray, pairs, k: int = 4):
    from PIL import ImageDraw

    im = upscale(img, k)
    draw = ImageDraw.Draw(im)
    for n, ((sx, sy), (tx, ty)) in enumerate(pairs, 1):
        s, t = (sx * k, sy * k), (tx * k, ty * k)
        draw.line([s, t], fill=(255, 255, 255), width=3)
        vx, vy = t[0] - s[0], t[1] - s[1]
        norm = max((vx * vx + vy * vy) ** 0.5, 1e-6)
        ux, uy = vx / norm, vy / norm
        head = [t, (t[0] - 12 * ux + 7 * uy, t[1] - 12 * uy - 7 * ux), (t[0] - 12 * ux - 7 * uy, t[1] - 12 * uy + 7 * ux)]
        draw.polygon(head, fill=(255, 255, 255))
        draw.ellipse([s[0] - 6, s[1] - 6, s[0] + 6, s[1] + 6], fill=(230, 40, 40), outline=(255, 255, 255))
        draw.ellipse([t[0] - 6, t[1] - 6, t[0] + 6, t[1] + 6], fill=(40, 90, 230), outline=(255, 255, 255))
        draw.text((s[0] + 8, s[1] - 16), str(n), fill=(255, 255, 255))
    return im


def side_by_side(images, labels, k: int = 4):
    from PIL import Image, ImageDraw

    tiles = [im if not isinstance(im, np.ndarray) else upscale(im, k) for im in images]
    w, h = tiles[0].size
    sheet = Image.new("RGB", (w * len(tiles), h + 20), (30, 30, 30))
    draw = ImageDraw.Draw(sheet)
    for i, (tile, label) in enumerate(zip(tiles, labels)):
        sheet.paste(tile, (i * w, 20))
        draw.text((i * w + 6, 4), label, fill=(255, 255, 255))
    return sheet


def run_demo(host, out_dir: str) -> dict:
    nodes_mod = host.module("nodes.dragbench")
    from demo import scenes
    from demo.make_cases import CASES

    case = "red_disc_right"
    image, mask, points, prompt = nodes_mod.read_case(nodes_mod.find_case(case))
    source, target = points.pairs[0]
    seed, shape, colour, radius, _, _ = CASES[case]
    rgb = scenes.COLOURS[colour]
    extent = scenes.shape_extent(shape, radius)

    drag = run_workflow(host, DRAG_WORKFLOW)
    compare = run_workflow(host, COMPARE_WORKFLOW)
    recon = run_workflow(host, RECON_WORKFLOW)
    original = image[0].numpy()
    vae_only = read_png(recon["sde_drag/vae_only"][0])
    sde, ode = read_png(drag["sde_drag/result"][0]), read_png(compare["sde_drag/ode_result"][0])

    os.makedirs(out_dir, exist_ok=True)
    paths = {
        "input": os.path.join(out_dir, "input_with_points.png"),
        "result": os.path.join(out_dir, "sde_drag_result.png"),
        "comparison": os.path.join(out_dir, "sde_vs_ode.png"),
        "trajectory": os.path.join(out_dir, "sde_drag_trajectory.webp"),
        "trajectory_gif": os.path.join(out_dir, "sde_drag_trajectory.gif"),
    }
    arrows = draw_points(original, points.pairs)
    arrows.save(paths["input"])
    upscale(sde).save(paths["result"])
    side_by_side([arrows, sde, ode], ["input + drag", "SDE-Drag", "ODE-Drag"]).save(paths["comparison"])
    shutil.copyfile(drag["sde_drag/trajectory"][0], paths["trajectory"])
    from PIL import Image

    with Image.open(paths["trajectory"]) as anim:
        frames = []
        for i in range(getattr(anim, "n_frames", 1)):
            anim.seek(i)
            frames.append(anim.convert("RGB").resize((anim.width * 4, anim.height * 4), Image.NEAREST))
    frames = [arrows.convert("RGB")] + frames
    frames[0].save(paths["trajectory_gif"], save_all=True, append_images=frames[1:], duration=400, loop=0)

    report = {
        "case": case, "prompt": prompt, "source": source, "target": target,
        "sde": metrics.drag_report(sde, vae_only, rgb, source, target, extent),
        "ode": metrics.drag_report(ode, vae_only, rgb, source, target, extent),
        "files": paths,
    }
    with open(os.path.join(out_dir, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "output", "demo"))
    args = parser.parse_args()
    from harness.comfy_host import ComfyHost

    report = run_demo(ComfyHost(), args.out)
    for method in ("sde", "ode"):
        m = report[method]
        print(f"{method.upper()}-Drag: centroid error {m['centroid_error_px']:.2f} px, left at source "
              f"{100 * m['left_at_source']:.0f} %, area ratio {m['area_ratio']:.2f}, background PSNR "
              f"{m['background_psnr_db']:.1f} dB")
    print("wrote:")
    for path in report["files"].values():
        print("  ", os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
