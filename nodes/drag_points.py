"""Drag Points node: the point widget's value (or hand-written text) as DRAG_POINTS."""
from __future__ import annotations

import os
import uuid

from .common import CATEGORY
from .points_format import parse_drag_points

EXAMPLE_POINTS = '{"points": [], "width": 0, "height": 0}'


class SDEDragPoints:
    DESCRIPTION = (
        "Source -> target point pairs in image pixels. Click on the image to set a source, click "
        "again for its target; drag a point to move it; right-click deletes the nearest pair. "
        "Also accepts hand-written text: one 'sx,sy -> tx,ty' per line."
    )
    CATEGORY = CATEGORY
    FUNCTION = "parse"
    RETURN_TYPES = ("DRAG_POINTS",)
    RETURN_NAMES = ("drag_points",)
    OUTPUT_TOOLTIPS = ("The point pairs, in pixels of the image they were picked on.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "points": ("STRING", {
                    "multiline": True, "default": '{"points": []}',
                    "tooltip": 'Point pairs as JSON {"points": [[[sx, sy], [tx, ty]], ...], "width": W, '
                               '"height": H} (what the widget writes) or text lines "sx,sy -> tx,ty".',
                }),
            },
            "optional": {
                "image": ("IMAGE", {"tooltip": "The image to pick points on; shown in the widget. When "
                                               "given, points are checked against its size."}),
            },
        }

    def parse(self, points, image=None):
        drag_points = parse_drag_points(points)
        if image is None:
            return (drag_points,)
        height, width = int(image.shape[1]), int(image.shape[2])
        if drag_points.width is None:
            drag_points = drag_points.scaled_to(width, height)
        drag_points.scaled_to(width, height).check_inside(width, height)
        # The widget shows the image that reached the node once the graph has run.
        return {"ui": {"sde_drag_image": [save_temp_png(image[0])]}, "result": (drag_points,)}


def save_temp_png(image) -> dict:
    """One HxWxC image in [0, 1] as a PNG in ComfyUI's temp folder; its /view address parts."""
    import folder_paths
    import torch
    from PIL import Image

    pixels = (image[..., :3].detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    filename = f"sde_drag_points_{uuid.uuid4().hex[:12]}.png"
    folder = folder_paths.get_temp_directory()
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(pixels.contiguous().numpy()).save(os.path.join(folder, filename), compress_level=1)
    return {"filename": filename, "subfolder": "", "type": "temp"}


NODE_CLASS_MAPPINGS = {"SDEDragPoints": SDEDragPoints}
NODE_DISPLAY_NAME_MAPPINGS = {"SDEDragPoints": "Drag Points"}
