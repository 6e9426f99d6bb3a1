"""ComfyUI glue: every node module contributes its NODE_CLASS_MAPPINGS here."""
from . import demo_nodes, denoise, diffedit, drag, drag_points, dragbench, fresh_denoise, inversion, lora, noise, sampler

_MODULES = (drag_points, dragbench, demo_nodes, noise, inversion, drag, denoise, sampler, lora, fresh_denoise, diffedit)

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
for _module in _MODULES:
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)

from .limits import guard_float_inputs  # noqa: E402

guard_float_inputs(NODE_CLASS_MAPPINGS)  # NaN/inf FLOAT widget values: a ValueError naming the input
