"""The one place that boots ComfyUI for the lab: the tests, the speed benchmark, the studies and
the demo scripts. The real, pinned ComfyUI runs in-process, loads this pack through its own
custom-node loader and runs graphs through its own executor.

- `ComfyHost(device="cpu")`: ComfyUI booted once per process with the pack loaded (CPU, or
  "cuda" for the benchmark); `run(prompt)` executes an API-format graph.
- `setup_comfy()`: ComfyUI's modules importable, on the CPU, without loading any custom node
  (what the demo model's training and the full-size model builder need).

Where things are comes from `.host/env.sh`, written by `scripts/provision.sh`
(COMFYUI_ROOT, COMFYUI_BASE); `COMFYUI_PATH` in the environment overrides the host. ComfyUI's
root goes at the FRONT of sys.path (its `nodes.py` must win over this pack's `nodes/`), here
and nowhere else.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK_FOLDER = "ComfyUI-SDE-Drag"  # the name scripts/provision.sh links the pack under


def read_env() -> dict:
    env = {}
    env_file = REPO / ".host" / "env.sh"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export "):].partition("=")
                env[key] = value.strip('"')
    for key in ("COMFYUI_ROOT", "COMFYUI_BASE"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    if os.environ.get("COMFYUI_PATH"):
        env["COMFYUI_ROOT"] = os.environ["COMFYUI_PATH"]
    if "COMFYUI_ROOT" not in env:
        raise RuntimeError("No ComfyUI host: run scripts/provision.sh (make test does) or set COMFYUI_PATH")
    return env


class _Server:
    """The few attributes PromptExecutor reads from PromptServer; events are kept for tests."""

    def __init__(self):
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata = {}
        self.events: list[tuple[str, object]] = []

    def send_sync(self, event, data, sid=None):
        self.events.append((event, data))

    def queue_updated(self):
        pass


class ImportFailureCatcher(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def setup_comfy(cpu: bool = True, **cli) -> Path:
    """ComfyUI's modules importable (its root first on sys.path), on the CPU unless `cpu` is
    False, with ComfyUI's command-line arguments `cli` set (e.g. base_directory) and what its
    main.py imports before its nodes; returns ComfyUI's root."""
    env = read_env()
    root = Path(env["COMFYUI_ROOT"])
    # folder_paths reads the base directory once, when first imported (comfy.utils can import it here):
    # every call names the host's base, so a first call without one (the model builder's) cannot pin
    # ComfyUI's own folder, where the pack is not linked
    cli.setdefault("base_directory", str(env.get("COMFYUI_BASE", REPO / ".host" / "base")))
    if sys.path[:1] != [str(root)]:
        sys.path.insert(0, str(root))
    from comfy.cli_args import args  # must come before comfy.model_management is imported

    args.cpu = cpu
    for key, value in cli.items():
        setattr(args, key, value)
    import utils.extra_config  # noqa: F401  (main.py imports it before nodes)
    import comfy.utils

    comfy.utils.PROGRESS_BAR_ENABLED = False
    return root


def comfyui_version(root) -> str:
    text = (Path(root) / "comfyui_version.py").read_text()
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


class ComfyHost:
    """Boots ComfyUI once per process with the pack loaded. `run(prompt)` executes an API-format
    graph; `module("nodes.drag")` is a pack module as ComfyUI loaded it.

    `device` "cpu" or "cuda" (the benchmark's GPU runs); `threads` pins torch's thread count
    before ComfyUI reads it; `quiet` lowers the root logger to warnings (a benchmark's output)."""

    def __init__(self, device: str = "cpu", threads: int | None = None, quiet: bool = False):
        env = read_env()
        self.base = Path(env.get("COMFYUI_BASE", REPO / ".host" / "base"))
        (self.base / "custom_nodes").mkdir(parents=True, exist_ok=True)
        pack_dir = Path(os.environ.get("SDE_DRAG_PACK_DIR", REPO))  # a test loads a broken copy
        link = self.base / "custom_nodes" / PACK_FOLDER
        if not link.exists():
            link.symlink_to(pack_dir)
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        self.root = setup_comfy(cpu=device == "cpu", base_directory=str(self.base), disable_api_nodes=True,
                                database_url="sqlite:///:memory:")
        if quiet:
            logging.getLogger().setLevel(logging.WARNING)
        import comfy.model_management
        import execution
        import nodes

        self.nodes, self.execution = nodes, execution
        catcher = ImportFailureCatcher()
        logging.getLogger().addHandler(catcher)
        try:
            asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
        finally:
            logging.getLogger().removeHandler(catcher)
        self.pack_path = str(link)
        self.pack_module_name = self.pack_path.replace(".", "_x_")  # how load_custom_node names it
        failures = [m for m in catcher.messages if self.pack_path in m or PACK_FOLDER in m]
        self.pack = sys.modules.get(self.pack_module_name)
        mappings = self.pack_nodes()
        missing = [name for name in mappings if name not in nodes.NODE_CLASS_MAPPINGS]
        if failures or not mappings or missing:
            raise RuntimeError(
                f"ComfyUI could not load the pack {PACK_FOLDER} ({link}); missing nodes {missing};"
                " what ComfyUI logged:\n" + "\n".join(failures or catcher.messages)
            )
        self.device = comfy.model_management.get_torch_device()
        if device == "cuda" and self.device.type != "cuda":
            raise RuntimeError("device cuda: ComfyUI found no CUDA device")
        self.device_name = device
        self.server = _Server()
        self.executor = execution.PromptExecutor(
            self.server, cache_type=execution.CacheType.CLASSIC, cache_args={"lru": 0, "ram": 16.0, "ram_inactive": 0.0}  # newer hosts read ram_inactive
        )

    def synchronize(self):
        """Waits for the GPU's queued work (a no-op on the CPU), so that a timing ends when the work does."""
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize()

    def pack_nodes(self) -> dict:
        """The pack's node classes by node id, as its V3 entry point lists them (empty if it did not load)."""
        entrypoint = getattr(self.pack, "comfy_entrypoint", None)
        if entrypoint is None:
            return {}
        extension = asyncio.run(entrypoint())
        return {cls.GET_SCHEMA().node_id: cls for cls in asyncio.run(extension.get_node_list())}

    @property
    def node_classes(self) -> dict:
        return self.pack_nodes()

    def module(self, dotted: str):
        """A submodule of the pack as ComfyUI loaded it, e.g. host.module('nodes.drag')."""
        import importlib

        return importlib.import_module(f"{self.pack_module_name}.{dotted}")

    def register(self, mappings: dict):
        self.nodes.NODE_CLASS_MAPPINGS.update(mappings)

    def validate(self, prompt: dict):
        return asyncio.run(self.execution.validate_prompt(str(uuid.uuid4()), prompt, None))

    def run(self, prompt: dict, *, fresh_cache: bool = True) -> "RunResult":
        """Validate and execute an API-format prompt through ComfyUI's executor."""
        valid, error, outputs, node_errors = self.validate(prompt)
        if not valid or node_errors:  # ComfyUI drops invalid outputs and shows their node errors
            return RunResult(False, validation_error=error, node_errors=node_errors)
        if fresh_cache:
            self.executor.reset()
        self.server.events.clear()
        prompt_id = str(uuid.uuid4())
        self.executor.execute(prompt, prompt_id, {"client_id": "tests"}, outputs)
        errors = [d for e, d in self.executor.status_messages if e == "execution_error"]
        return RunResult(
            self.executor.success and not errors,
            execution_error=errors[0] if errors else None,
            outputs=dict(self.executor.history_result.get("outputs", {})),
            events=list(self.server.events),
        )


class RunResult:
    def __init__(self, ok, *, validation_error=None, node_errors=None, execution_error=None, outputs=None, events=None):
        self.ok = ok
        self.validation_error = validation_error
        self.node_errors = node_errors or {}
        self.execution_error = execution_error
        self.outputs = outputs or {}
        self.events = events or []

    @property
    def error_message(self) -> str:
        if self.execution_error:
            return str(self.execution_error.get("exception_message", ""))
        if self.node_errors:
            return repr(self.node_errors)
        return repr(self.validation_error)

    def __repr__(self):
        return f"RunResult(ok={self.ok}, error={self.error_message!r})"
