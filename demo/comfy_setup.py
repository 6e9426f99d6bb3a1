"""What the demo scripts (train_demo_model.py, check_demo_model.py) share: the pinned ComfyUI on
sys.path, on the CPU, and the demo's own modules loaded by file path.

The scripts run as `python demo/<script>.py`, outside the pack (which ComfyUI imports as a
package named after its folder), so demo/model.py and demo/scenes.py are loaded by path.
"""
from __future__ import annotations

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def setup_comfy() -> str:
    """Puts ComfyUI (``$COMFYUI_PATH`` or ``<repo>/.host/ComfyUI``) first on sys.path, on the CPU,
    with what ComfyUI's main.py imports before its nodes; returns its folder."""
    root = os.environ.get("COMFYUI_PATH") or os.path.join(REPO, ".host", "ComfyUI")
    if root not in sys.path:
        sys.path.insert(0, root)
    from comfy.cli_args import args

    args.cpu = True
    import utils.extra_config  # noqa: F401  (before `nodes`, as main.py does)
    import comfy.utils

    comfy.utils.PROGRESS_BAR_ENABLED = False
    return root


def load_demo_module(name: str):
    """demo/<name>.py ("model" or "scenes") loaded by file path, as ``sde_drag_demo_<name>``."""
    module_name = f"sde_drag_demo_{name}"
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
