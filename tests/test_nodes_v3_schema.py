"""The pack's nodes on ComfyUI's V3 schema (comfy_api.v0_0_2) with the interface saved workflows
rely on: node ids, input names and order, widget defaults and outputs exactly as before the
migration, so workflows saved before it load and run unchanged.

tests/fixtures/node_interface_before_v3.json was written from the legacy (V1) classes just
before the migration (ids, display names, inputs per group in order with their type, default,
min, max and options, outputs); the two saved workflows are copies of shipped templates of then.
"""
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
from workflow_api import check_links, to_api

SAVED = sorted(FIXTURES.glob("saved_before_*.json"))  # before V3; before size_unit (issue 27.2)


def _interface(cls, display_name):
    spec = cls.INPUT_TYPES()
    entry = {"display_name": display_name, "category": cls.CATEGORY}
    for group in ("required", "optional"):
        items = []
        for name, declared in spec.get(group, {}).items():
            kind, opts = declared[0], dict(declared[1]) if len(declared) > 1 else {}
            if isinstance(kind, list):
                opts["options"], kind = kind, "COMBO"
            keep = {k: opts[k] for k in ("default", "min", "max", "options", "control_after_generate", "multiline")
                    if k in opts and not (k == "multiline" and opts[k] is False)}
            items.append([name, kind, keep])
        entry[group] = items
    entry["outputs"] = list(cls.RETURN_TYPES)
    entry["output_names"] = list(cls.RETURN_NAMES or cls.RETURN_TYPES)
    entry["output_node"] = bool(cls.OUTPUT_NODE)
    return entry


def test_the_pack_registers_through_the_v3_entry_point_only(host):
    from comfy_api.v0_0_2 import io

    assert callable(getattr(host.pack, "comfy_entrypoint", None))
    assert not hasattr(host.pack, "NODE_CLASS_MAPPINGS")  # it would send ComfyUI down the legacy path
    assert host.node_classes and all(issubclass(cls, io.ComfyNode) for cls in host.node_classes.values())
    assert host.pack.WEB_DIRECTORY == "./web"


def test_node_ids_inputs_in_order_and_outputs_are_unchanged_from_before_the_migration(host):
    import nodes

    before = json.loads((FIXTURES / "node_interface_before_v3.json").read_text())
    now = {node_id: _interface(cls, nodes.NODE_DISPLAY_NAME_MAPPINGS[node_id])
           for node_id, cls in host.node_classes.items()}
    assert sorted(now) == sorted(before)
    for node_id in before:
        expected = dict(before[node_id])
        expected["optional"] = before[node_id]["optional"] + APPENDED_SINCE.get(node_id, [])
        assert now[node_id] == expected, node_id


# Inputs added since, each optional and last, so a saved workflow's widget values keep their places and
# a prompt without them runs as before (issue 27.2: nodes/size_units.py reads an absent size_unit as latent cells).
APPENDED_SINCE = {
    node_id: [["size_unit", "COMBO", {"default": "64ths of the short side",
                                      "options": ["64ths of the short side", "latent cells"]}]]
    for node_id in ("SDEDragAllInOne", "SDEDragCopyPaste")
}


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
def test_a_workflow_saved_before_the_migration_loads_and_runs(host, path):
    import nodes

    workflow = json.loads(path.read_text())
    check_links(workflow, nodes.NODE_CLASS_MAPPINGS)
    result = host.run(to_api(workflow, nodes.NODE_CLASS_MAPPINGS))
    assert result.ok, result
    assert [item for out in result.outputs.values() for item in out.get("images", [])]


def test_the_readme_node_reference_is_what_the_schema_generates(host):
    import node_reference

    readme = (REPO / "README.md").read_text()
    assert node_reference.current(readme) == node_reference.reference(list(host.node_classes.values())), \
        "README's node reference is out of date: run .venv/bin/python scripts/node_reference.py"


COMBOS = [("drag", "method", "euler"), ("den", "cfg_ramp", "quadratic")]


@pytest.mark.parametrize("node,name,value", COMBOS, ids=[c[1] for c in COMBOS])
def test_a_combo_value_that_is_not_an_option_is_refused_at_validation_naming_the_input(host, node, name, value):
    """ComfyUI 0.3.75 validates combo values only for legacy nodes; the V3 nodes check theirs in
    validate_inputs, so 'euler' is never silently an SDE drag."""
    import graphs

    graph = graphs.sde_drag("eps", steps=3) if node == "drag" else graphs.one_subdrag("eps", "sde", steps=3)
    graph[node]["inputs"][name] = value
    result = host.run(graph)
    assert not result.ok and result.execution_error is None, result
    assert f"{name}: {value!r} is not one of" in repr(result.node_errors[node]), result.node_errors


ADVANCED_SDE_DRAG_INPUTS = {"step_size", "r", "alpha", "beta", "guider", "sigmas", "lora_scale_min", "size_unit"}


def test_sde_drag_folds_the_paper_knobs_under_advanced_and_the_node_library_finds_it_by_alias(host):
    """What the frontend gets (the node info ComfyUI serves): on hosts that know `advanced`, the inputs an
    artist rarely changes carry it (the frontend folds them), the rest do not; on hosts whose Schema takes search aliases
    the node library finds SDE Drag by "drag" and the other words users search with."""
    import comfy_api.latest._io as host_io

    cls = host.node_classes["SDEDragAllInOne"]
    info = cls.GET_NODE_INFO_V1()
    flagged = {name for group in ("required", "optional") for name, declared in info["input"].get(group, {}).items()
               if len(declared) > 1 and isinstance(declared[1], dict) and declared[1].get("advanced")}
    import inspect

    host_knows_advanced = "advanced" in inspect.signature(host_io.Input.__init__).parameters
    assert flagged == (ADVANCED_SDE_DRAG_INPUTS if host_knows_advanced else set())  # 0.3.75: not sent
    if "search_aliases" in {f.name for f in __import__("dataclasses").fields(host_io.Schema)}:
        assert {"drag", "DragDiffusion"} <= set(info["search_aliases"])
    else:
        assert "search_aliases" not in info  # 0.3.75: nothing the host does not know is sent
    for node_id, node in host.node_classes.items():  # every node's aliases, where the host serves them
        node.GET_SCHEMA()  # advanced_inputs naming a missing input fails here
