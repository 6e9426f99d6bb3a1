"""Drag Points node: the point widget's value (or hand-written text) as DRAG_POINTS."""
from __future__ import annotations

import os
import uuid

from comfy_api.v0_0_2 import io

from .base import SDEDragNode
from .inputs import DragPointsType
from .points_format import parse_drag_points

class SDEDragPoints(SDEDragNode, io.ComfyNode):
    """Source -> target point pairs in image pixels. Click on the image to set a source, click again for its
    target; drag a point to move it; right-click deletes the nearest pair. Also accepts hand-written text:
    one 'sx,sy -> tx,ty' per line."""
    node_id = "SDEDragPoints"
    display_name = "Drag Points"

    @classmethod
    def schema_inputs(cls):
        return [
            io.String.Input("points", multiline=True, default='{"points": []}',
                            tooltip='Point pairs as JSON {"points": [[[sx, sy], [tx, ty]], ...], "width": W, '
                                    '"height": H} (what the widget writes) or text lines "sx,sy -> tx,ty".'),
            io.Image.Input("image", optional=True, tooltip="The image to pick points on; shown in the widget. "
                                                           "When given, points are checked against its size."),
        ]

    @classmethod
    def schema_outputs(cls):
        return [DragPointsType.Output(display_name="drag_points",
                                      tooltip="The point pairs, in pixels of the image they were picked on.")]

    @classmethod
    def execute(cls, points, image=None):
        drag_points = parse_drag_points(points)
        if image is None:
            return io.NodeOutput(drag_points)
        height, width = int(image.shape[1]), int(image.shape[2])
        if drag_points.width is None:
            drag_points = drag_points.scaled_to(width, height)
        drag_points.scaled_to(width, height).check_inside(width, height)
        # The widget shows the image that reached the node once the graph has run.
        return io.NodeOutput(drag_points, ui={"sde_drag_image": [save_temp_png(image[0])]})


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

