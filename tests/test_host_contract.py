"""The host contract (tests/host_contract.py) holds on the ComfyUI this suite runs on, and lists
every ComfyUI symbol the pack reaches through an import.

Run against another ComfyUI with `COMFYUI_PATH=/path/to/ComfyUI`; the README's compatibility
line names the hosts it passed on."""
from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from pathlib import Path

import pytest

from host_contract import HOST_CALLS_PACK, MODULE_SYMBOLS, OBJECT_MEMBERS, SCHEDULER_NAMES

REPO = Path(__file__).resolve().parents[1]
HOST_ROOTS = {"comfy", "comfy_api", "comfy_extras", "comfy_execution", "folder_paths", "node_helpers",
              "latent_preview", "server", "execution"}


def _chain(node) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def host_uses(code: str) -> tuple[set[str], list[tuple[str, int, tuple[str, ...]]]]:
    """(dotted host names the code reaches through host imports, the longest chain of each;
    its calls to them as (name, positional count, keyword names))."""
    tree = ast.parse(code)
    alias = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in HOST_ROOTS:
                    alias[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in HOST_ROOTS:
            for a in node.names:
                alias[a.asname or a.name] = f"{node.module}.{a.name}"
    names, calls = set(), []
    for node in ast.walk(tree):
        chain = _chain(node) if isinstance(node, (ast.Attribute, ast.Name)) else None
        if chain and chain[0] in alias:
            names.add(".".join([alias[chain[0]], *chain[1:]]))
        if isinstance(node, ast.Call):
            chain = _chain(node.func)
            if chain and chain[0] in alias and not any(isinstance(a, ast.Starred) for a in node.args):
                calls.append((".".join([alias[chain[0]], *chain[1:]]), len(node.args),
                              tuple(k.arg for k in node.keywords if k.arg is not None)))
    return {n for n in names if not any(m.startswith(n + ".") for m in names)}, calls


def pack_sources() -> dict[str, str]:
    files = [REPO / "__init__.py", *sorted((REPO / "nodes").glob("*.py"))]
    return {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in files}


def resolve(dotted: str):
    """The host object at a dotted name: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for i, attr in enumerate(parts[cut:]):
            if not hasattr(obj, attr) and inspect.isclass(obj):
                return _set_in_init(obj, parts[cut + i:])
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


class SetAtRunTime:
    """A member a host class sets when it runs (`PromptServer.instance`): checked in its source."""


def _set_in_init(cls, rest: list[str]):
    """`cls.<rest[0]>` is assigned in `cls.__init__` (as `PromptServer.instance = self`), and the
    next name (`routes`) is an attribute `__init__` sets on self."""
    source = inspect.getsource(cls.__init__)
    assert f"{cls.__name__}.{rest[0]} =" in source, f"{cls.__name__}.__init__ no longer sets {rest[0]}"
    if len(rest) > 1:
        assert f"self.{rest[1]} =" in source, f"{cls.__name__}.__init__ no longer sets self.{rest[1]}"
    return SetAtRunTime()


def test_the_contract_lists_every_comfyui_symbol_the_pack_reaches():
    used = {}
    for path, code in pack_sources().items():
        for name in host_uses(code)[0]:
            used.setdefault(name, []).append(path)
    assert set(used) == set(MODULE_SYMBOLS), {
        "used but not in tests/host_contract.py": {n: used[n] for n in sorted(set(used) - set(MODULE_SYMBOLS))},
        "listed but no longer used": sorted(set(MODULE_SYMBOLS) - set(used))}


def test_the_finder_sees_aliases_from_imports_and_call_shapes():
    names, calls = host_uses(textwrap.dedent("""
        import comfy.model_management as mm
        from comfy_api.v0_0_2 import io
        import os
        mm.get_free_memory(dev, torch_free_too=True)
        io.Float.Input("x", default=1.0)
        os.path.join("a")
    """))
    assert names == {"comfy.model_management.get_free_memory", "comfy_api.v0_0_2.io.Float.Input"}
    assert ("comfy_api.v0_0_2.io.Float.Input", 1, ("default",)) in calls
    assert ("comfy.model_management.get_free_memory", 1, ("torch_free_too",)) in calls


@pytest.mark.parametrize("name", sorted(MODULE_SYMBOLS))
def test_every_listed_symbol_exists_on_this_host(host, name):
    resolve(name)


def _binds(fn, positional: int, keywords) -> None:
    if isinstance(fn, SetAtRunTime):
        return  # a running server's object (aiohttp's routes): existence checked in resolve
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin without a signature: existence is all that can be checked
    signature.bind(*([None] * positional), **{k: None for k in keywords})


def test_every_call_the_pack_makes_binds_to_the_host_signature(host):
    failures = []
    for path, code in pack_sources().items():
        for name, positional, keywords in host_uses(code)[1]:
            try:
                _binds(resolve(name), positional, keywords)
            except TypeError as error:
                failures.append(f"{path}: {name}({positional} positional, {keywords}): {error}")
    assert not failures, "\n".join(failures)


def _host_call(function, attribute: str):
    """(positional count, keyword names) of the first call to `.<attribute>(...)` in `function`'s source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attribute:
            return len(node.args), tuple(k.arg for k in node.keywords if k.arg is not None)
    raise AssertionError(f"{function.__qualname__} no longer calls .{attribute}(...): the pack's hook is not reached")


@pytest.mark.parametrize("host_function,attribute,pack_callable,make_args,leading", HOST_CALLS_PACK,
                         ids=[f"{h}->{p.split(':')[1]}" for h, _, p, _, _ in HOST_CALLS_PACK])
def test_the_host_calls_the_packs_hooks_with_arguments_they_accept(host, host_function, attribute, pack_callable,
                                                                   make_args, leading):
    positional, keywords = _host_call(resolve(host_function), attribute)
    module, path = pack_callable.split(":")
    fn = host.module(module)
    for name in path.split("."):
        fn = getattr(fn, name)
    if make_args is not None:
        fn = fn(*make_args)
    _binds(fn, leading + positional, keywords)


def test_the_bind_check_fails_on_the_wrapper_that_broke_on_comfyui_0_14():
    def old_wrapper(executor, model, noise_shape, conds, model_options=None):
        return None

    with pytest.raises(TypeError):
        _binds(old_wrapper, 1 + 3, ("model_options", "force_full_load", "force_offload"))


def test_the_schedulers_the_pack_names_exist(host):
    import comfy.samplers

    assert set(SCHEDULER_NAMES) <= set(comfy.samplers.SCHEDULER_NAMES)


def _objects(host):
    import comfy.model_management
    import comfy.patcher_extension
    import comfy.samplers
    from harness import tiny_models

    patcher = tiny_models.build("eps")
    comfy.model_management.load_models_gpu([patcher])
    guider = comfy.samplers.CFGGuider(patcher)
    guider.set_conds(tiny_models.conditioning("eps"), [])
    loaded = next(m for m in comfy.model_management.current_loaded_models if m.model is patcher)
    executor = comfy.patcher_extension.WrapperExecutor.new_class_executor(patcher.model._apply_model, patcher.model, [])
    return {"ModelPatcher": patcher, "BaseModel": patcher.model, "CFGGuider": guider, "LoadedModel": loaded,
            "ModelSampling": patcher.get_model_object("model_sampling"), "WrapperExecutor": executor}


def test_the_objects_the_host_hands_the_pack_have_the_members_it_uses(host):
    objects = _objects(host)
    missing = {kind: [m for m in members if not hasattr(objects[kind], m)] for kind, members in OBJECT_MEMBERS.items()}
    assert not any(missing.values()), missing
