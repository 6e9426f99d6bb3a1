"""Boot the pinned ComfyUI in-process (as `tests/comfy_host.py` does), on the CPU or a GPU,
and load this pack through ComfyUI's own custom-node loader.

The benchmark calls the pack's node classes as ComfyUI loaded them (`Host.module(...)`), so
the objects it times are the ones a user's ComfyUI runs."""
from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK_FOLDER = "ComfyUI-SDE-Drag"


def _paths():
    # At the END of sys.path (as tests/conftest.py does): ComfyUI's root goes in front, so
    # `nodes` stays ComfyUI's nodes.py while `tests/`' helpers resolve.
    for p in (str(REPO), str(REPO / "tests")):
        if p not in sys.path:
            sys.path.append(p)


class Host:
    """ComfyUI booted once per process; `device` is "cpu" or "cuda"."""

    def __init__(self, device: str = "cpu", threads: int | None = None):
        _paths()
        from comfy_host import read_env  # tests/comfy_host.py: where the host is

        env = read_env()
        self.root = Path(env["COMFYUI_ROOT"])
        self.base = Path(env.get("COMFYUI_BASE", REPO / ".host" / "base"))
        (self.base / "custom_nodes").mkdir(parents=True, exist_ok=True)
        link = self.base / "custom_nodes" / PACK_FOLDER
        if not link.exists():
            link.symlink_to(REPO)
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        from comfy.cli_args import args  # before comfy.model_management is imported

        args.cpu = device == "cpu"
        args.base_directory = str(self.base)
        args.disable_api_nodes = True
        args.database_url = "sqlite:///:memory:"
        import utils.extra_config  # noqa: F401  (main.py imports it before nodes)
        import comfy.model_management
        import comfy.utils

        comfy.utils.PROGRESS_BAR_ENABLED = False
        logging.getLogger().setLevel(logging.WARNING)
        import nodes

        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
        self.pack_module_name = str(link).replace(".", "_x_")  # how load_custom_node names it
        if self.pack_module_name not in sys.modules:
            raise RuntimeError(f"ComfyUI could not load the pack {PACK_FOLDER} from {link}")
        self.device = comfy.model_management.get_torch_device()
        if device == "cuda" and self.device.type != "cuda":
            raise RuntimeError("--device cuda: ComfyUI found no CUDA device")
        self.device_name = device

    def module(self, dotted: str):
        """A submodule of the pack as ComfyUI loaded it, e.g. host.module('nodes.drag')."""
        return importlib.import_module(f"{self.pack_module_name}.{dotted}")

    def synchronize(self):
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()


def comfyui_version(root) -> str:
    text = (Path(root) / "comfyui_version.py").read_text()
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


def env_threads() -> int | None:
    value = os.environ.get("SDE_DRAG_BENCH_THREADS")
    return int(value) if value else None
