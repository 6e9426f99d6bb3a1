"""The pack's node base: a mixin that builds a V3 `io.ComfyNode`'s Schema from the class itself,
so a node states only what is its own.

    class SDEDragNoise(SDEDragNode, io.ComfyNode):
        \"\"\"Noises the clean latent to t0 ... (the description the frontend shows).\"\"\"
        node_id = "SDEDragNoise"                  # what saved workflows hold: never change it
        display_name = "SDE Noise (SDEdit start)"

        @classmethod
        def schema_inputs(cls): return [...]      # in the order saved workflows hold them

        @classmethod
        def schema_outputs(cls): return [...]

ComfyUI 0.3.75 accepts an intermediate class: it looks for `define_schema`/`execute`/
`validate_inputs` overrides along the MRO (`comfy_api.internal.first_real_override`) and runs
`execute` on a locked clone of the registered class. `define_schema` here only reads class
attributes (it must not write any: `inputs.check_widgets` calls it).

Why a mixin, with `io.ComfyNode` named on every registered node: ComfyUI-Manager's scanner (which
builds the "install missing custom nodes" database from the source, without running it) counts
only classes whose *direct* base is `ComfyNode`, named by the class name unless their own
`define_schema` holds a `node_id` literal. So each registered class names `io.ComfyNode` itself
and its class name is its node id (tests/test_manager_scan.py checks both), and no helper class
(this one, `NoisesToT0`, `DenoiseAlongRecording`) subclasses `ComfyNode`.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect

from comfy_api.v0_0_2 import io

from .inputs import CATEGORY, check_linked


def host_schema_fields() -> set:
    """The fields this host's `io.Schema` takes (0.3.75 has no `search_aliases`; later hosts do)."""
    return {f.name for f in dataclasses.fields(io.Schema)}


def host_has_advanced_inputs() -> bool:
    """Whether this host's inputs take `advanced` (later hosts; 0.3.75's do not)."""
    return "advanced" in inspect.signature(io.Input.__init__).parameters


class SDEDragNode:
    node_id: str
    display_name: str
    category = CATEGORY
    is_output_node = False
    # Inputs an artist rarely changes: hosts that know `advanced` let the frontend fold them away.
    advanced_inputs: tuple = ()
    # Other words users search the node library with (hosts whose Schema takes `search_aliases`).
    search_aliases: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        execute = cls.__dict__.get("execute")
        # ComfyUI builds clones of a node class (and locks them): their execute is wrapped already
        if execute is not None and not getattr(execute.__func__, "checks_linked_values", False):
            cls.execute = classmethod(checked_execute(execute.__func__))

    @classmethod
    def description(cls) -> str:
        """The frontend's description: the class docstring with its line breaks and indents folded."""
        return " ".join(inspect.getdoc(cls).split())

    @classmethod
    def schema_inputs(cls) -> list:
        return []

    @classmethod
    def schema_outputs(cls) -> list:
        return []

    @classmethod
    def define_schema(cls):
        inputs = cls.schema_inputs()
        unknown = set(cls.advanced_inputs) - {i.id for i in inputs}
        assert not unknown, f"{cls.node_id}: advanced_inputs names no input {sorted(unknown)}"
        if host_has_advanced_inputs():
            for declared in inputs:
                if declared.id in cls.advanced_inputs:
                    declared.advanced = True
        more = {}
        if cls.search_aliases and "search_aliases" in host_schema_fields():
            more["search_aliases"] = list(cls.search_aliases)
        return io.Schema(node_id=cls.node_id, display_name=cls.display_name, category=cls.category,
                         description=cls.description(), inputs=inputs, outputs=cls.schema_outputs(),
                         is_output_node=cls.is_output_node, **more)


def checked_execute(execute):
    """`execute` preceded by `inputs.check_linked` on every value it is called with, so that an
    INT, FLOAT or COMBO value that came through a link meets the same bounds as a widget's.
    `functools.wraps` keeps the signature ComfyUI and the tests read."""
    signature = inspect.signature(execute)
    first = next(iter(signature.parameters))  # the class

    @functools.wraps(execute)
    def run(cls, *args, **kwargs):
        bound = signature.bind(cls, *args, **kwargs)
        check_linked(cls, {k: v for k, v in bound.arguments.items() if k != first})
        return execute(cls, *args, **kwargs)

    run.checks_linked_values = True
    return run
