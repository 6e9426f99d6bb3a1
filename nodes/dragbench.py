"""Load one drag-benchmark case: the SDE-Drag layout (origin_image.png, mask.png, prompt.json), DragBench as
published with DragDiffusion and Drag100 as published with GoodDrag (nodes/bench_layouts.py)."""
from __future__ import annotations

import json
import os

import numpy as np
import torch
from PIL import Image

from comfy_api.v0_0_2 import io

from . import bench_layouts, inputs
from .base import SDEDragNode
from .inputs import DragPointsType
from .points_format import DragPoints, parse_drag_points

PACK_CASES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "cases")
INPUT_SUBFOLDER = "dragbench"  # cases a user adds go in ComfyUI/input/dragbench/<case>/


def case_roots() -> list[str]:
    roots = [PACK_CASES]
    try:
        import folder_paths

        roots.append(os.path.join(folder_paths.get_input_directory(), INPUT_SUBFOLDER))
    except ImportError:  # outside ComfyUI: only the bundled cases
        pass
    return [r for r in roots if os.path.isdir(r)]


def list_cases() -> list[str]:
    """Case names: folder paths relative to a case root, ``/``-separated (``dragbench-d/animals/<case>``)."""
    names = set()
    for root in case_roots():
        names.update(bench_layouts.find_case_folders(root))
    return sorted(names)


def find_case(name: str) -> str:
    parts = name.split("/") if isinstance(name, str) else []
    if not name or "\\" in name or os.path.isabs(name) or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"case: {name!r} is not a case folder name; pick one of the listed cases")
    for root in case_roots():
        path = os.path.join(root, *parts)
        if os.path.isdir(path):
            return path
    raise ValueError(f"case: no case folder {name!r} among the pack's bundled cases or in ComfyUI's "
                     f"input/{INPUT_SUBFOLDER}/ folder; pick one of the listed cases (refresh the page after adding one)")


MAX_CASE_PIXELS = 8192 * 8192  # far above any benchmark's picture; a bigger one is a decompression bomb


def _image(path: str, what: str) -> np.ndarray:
    """A case picture as float32 in [0, 1]: RGB for the image, one channel for a mask. Errors name
    the file inside its case, never the server's folders (the case-image route shows them)."""
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise ValueError(f"case: the {what} file {name} is missing in the case folder")
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_CASE_PIXELS:
                raise ValueError(f"case: {name} is {im.width}x{im.height}, more than the {MAX_CASE_PIXELS} pixels a "
                                 f"case picture may have; resize it")
            return np.asarray(im.convert("RGB" if what == "image" else "L"), dtype=np.float32) / 255.0
    except Image.DecompressionBombError as e:
        raise ValueError(f"case: {name} is too large to open safely ({e}); resize it") from None
    except (OSError, SyntaxError) as e:  # PIL's errors for a broken or truncated file
        raise ValueError(f"case: {name} is not a readable picture ({type(e).__name__}); save it again as PNG or "
                         f"JPEG") from None


def read_case(folder: str):
    """(image [1,H,W,3], mask [1,H,W] (1 = editable), DragPoints, prompt) from a case folder of any layout,
    at the picture's native size."""
    layout = bench_layouts.layout_of(folder)
    if layout in bench_layouts.READERS:
        image, mask, points, prompt = bench_layouts.READERS[layout](folder, _image)
        return torch.from_numpy(image)[None], torch.from_numpy(mask)[None], points, prompt
    return read_sde_drag_case(folder)


def read_sde_drag_case(folder: str):
    """The SDE-Drag layout: origin_image.png, optional mask.png, prompt.json with source, target, prompt."""
    image = _image(os.path.join(folder, "origin_image.png"), "image")
    height, width = image.shape[:2]
    mask_path = os.path.join(folder, "mask.png")
    mask = _image(mask_path, "mask") if os.path.exists(mask_path) else np.ones((height, width), np.float32)
    if mask.shape != (height, width):
        raise ValueError(f"case: mask.png is {mask.shape[1]}x{mask.shape[0]} but the image is {width}x{height}")
    meta_path = os.path.join(folder, "prompt.json")
    if not os.path.isfile(meta_path):
        raise ValueError("case: prompt.json is missing in the case folder")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    except ValueError as e:
        raise ValueError(f"case: prompt.json is not valid JSON ({e})") from None
    source, target = meta.get("source"), meta.get("target")
    if not isinstance(source, list) or not isinstance(target, list):
        raise ValueError('case: prompt.json needs "source" and "target" lists of [x, y] pixel points')
    if len(source) != len(target):
        raise ValueError(f"case: prompt.json has {len(source)} source points but {len(target)} target points")
    points = parse_drag_points(json.dumps({"points": [[s, t] for s, t in zip(source, target)],
                                           "width": width, "height": height}))
    points.check_inside(width, height)
    prompt = meta.get("prompt", "")
    if not isinstance(prompt, str):
        raise ValueError('case: "prompt" in prompt.json must be text')
    return torch.from_numpy(image)[None], torch.from_numpy((mask > 0.5).astype(np.float32))[None], points, prompt


def write_case(folder: str, image: np.ndarray, mask: np.ndarray, points: DragPoints, prompt: str) -> None:
    """Write a case in the same layout (image float [H,W,3] in [0,1], mask [H,W] 0/1)."""
    os.makedirs(folder, exist_ok=True)
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(os.path.join(folder, "origin_image.png"))
    Image.fromarray(((mask > 0.5) * 255).astype(np.uint8)).save(os.path.join(folder, "mask.png"))
    with open(os.path.join(folder, "prompt.json"), "w", encoding="utf-8") as f:
        json.dump({"prompt": prompt, "source": [list(s) for s, _ in points.pairs],
                   "target": [list(t) for _, t in points.pairs]}, f, indent=1)


class SDEDragLoadDragBenchCase(SDEDragNode, io.ComfyNode):
    """Loads one drag-benchmark case at its native size, in any of three layouts: the SDE-Drag authors'
    (origin_image.png, mask.png, prompt.json), DragBench as published with DragDiffusion (original_image.png,
    meta_data.pkl, read without running code) and Drag100 (original.jpg, mask.png, points.json). Lists the
    pack's bundled demo cases and the case folders under ComfyUI/input/dragbench/ (up to 4 levels deep)."""
    node_id = "SDEDragLoadDragBenchCase"
    display_name = "Load DragBench Case"

    @classmethod
    def schema_inputs(cls):  # listed at every schema request, so added cases show after a refresh
        return [io.Combo.Input("case", options=list_cases() or ["(no cases found)"],
                               tooltip="A case folder: the pack's demo/cases/ or ComfyUI/input/dragbench/<case>/ "
                                       "(DragBench and Drag100 folders as published may be put there whole).")]

    @classmethod
    def schema_outputs(cls):
        return [io.Image.Output(display_name="image", tooltip="the case's picture at its native size"),
                io.Mask.Output(display_name="mask", tooltip="the case's mask (1 = editable region; all 1 if none)"),
                DragPointsType.Output(display_name="drag_points", tooltip="source -> target pairs in pixels"),
                io.String.Output(display_name="prompt", tooltip="the case's prompt")]

    @classmethod
    def validate_inputs(cls, case=None):
        return inputs.check_widgets(cls, case=case)

    @classmethod
    def execute(cls, case):
        return io.NodeOutput(*read_case(find_case(case)))


def _register_case_image_route() -> None:
    """GET /sde_drag/dragbench_case_image?case=NAME: the case's picture, found as the loader finds it,
    so the point editor shows a case's picture before any run. Only inside a running ComfyUI server."""
    try:
        from aiohttp import web
        from server import PromptServer
    except ImportError:
        return
    if getattr(PromptServer, "instance", None) is None:
        return

    @PromptServer.instance.routes.get("/sde_drag/dragbench_case_image")
    async def case_image(request):
        try:
            path = bench_layouts.picture_of(find_case(request.query.get("case", "")))
        except ValueError as e:
            return web.Response(status=404, text=str(e))
        if not os.path.isfile(path):
            return web.Response(status=404, text=f"case: {os.path.basename(path)} is missing")
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


_register_case_image_route()
