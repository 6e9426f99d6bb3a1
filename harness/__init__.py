"""The lab's harness, apart from the product (`__init__.py`, nodes/, sde_core/, web/), which never
imports it: `comfy_host` boots the pinned ComfyUI for the tests, the speed benchmark, the studies and
the scripts; `tiny_models` and `fullsize_models` build models from ComfyUI's own classes for them."""

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def plain_module(relative: str):
    """A plain-Python file of the product loaded by its path (e.g. "nodes/presets.py"), under the name
    `sde_drag_<stem>`: importing it through its package would import ComfyUI (nodes/__init__.py)."""
    name = f"sde_drag_{Path(relative).stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it: a dataclass looks its module up while it is created
        spec.loader.exec_module(module)
    return sys.modules[name]
