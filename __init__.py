"""ComfyUI-SDE-Drag: SDE editing (Nie et al., ICLR 2024) as ComfyUI nodes.

ComfyUI 0.3.75 loads a V3 pack through `comfy_entrypoint` (nodes.py `load_custom_node`); the
module must not define NODE_CLASS_MAPPINGS, which would take the legacy path first.
WEB_DIRECTORY (the point widget) is read before either path. At load the templates' example
picture is copied into ComfyUI's input folder when missing (nodes/example_pictures.py).
"""
from comfy_api.v0_0_2 import ComfyExtension

from .nodes import NODES
from .nodes.example_pictures import install_example_pictures

WEB_DIRECTORY = "./web"


class SDEDragExtension(ComfyExtension):
    async def get_node_list(self):
        return list(NODES)


async def comfy_entrypoint() -> SDEDragExtension:
    install_example_pictures()  # the templates' picture, where Load Image looks (never overwrites)
    return SDEDragExtension()


__all__ = ["WEB_DIRECTORY", "comfy_entrypoint", "NODES"]
