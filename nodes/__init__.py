"""ComfyUI glue: every node module contributes its NODE_CLASS_MAPPINGS here."""
from . import denoise, drag, drag_points, dragbench, inversion, noise

_MODULES = (drag_points, dragbench, noise, inversion, drag, denoise)

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
for _module in _MODULES:
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)
