"""Writes locales/en/nodeDefs.json, and node_list.json for ComfyUI-Manager, from the node
definitions ComfyUI serves for this pack.

The real ComfyUI loads the pack (harness/comfy_host.py); every node whose python_module is this
pack is described as `/object_info` describes it (V3 nodes through their own
GET_NODE_INFO_V1, classic ones as server.py's node_info does), and turned into the frontend's
locale layout (what ComfyUI's /i18n route serves from locales/<lang>/nodeDefs.json), with
vue-i18n's special characters written as literals:

    {"<node id>": {"display_name": ..., "description": ...,
                   "inputs": {"<input>": {"name": ..., "tooltip": ...}},
                   "outputs": {"<index>": {"name": ..., "tooltip": ...}}}}

node_list.json ({"<node id>": "<display name>"}, at the repository root) is what ComfyUI-Manager's
scanner merges into its node-to-pack map, so a shared workflow with these nodes offers this pack.

The English file is generated so it cannot drift from the nodes; locales/zh/nodeDefs.json is
written by hand with the same keys (tests/test_locales_and_help_pages.py checks both).

    .venv/bin/python scripts/build_locales.py           # rewrite locales/en/nodeDefs.json
    .venv/bin/python scripts/build_locales.py --check   # exit 1 if it is out of date
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENGLISH = REPO / "locales" / "en" / "nodeDefs.json"
NODE_LIST = REPO / "node_list.json"
PACK_FOLDER = "ComfyUI-SDE-Drag"  # the folder name harness/comfy_host.py links the pack under


# vue-i18n compiles every message: `{ }` are placeholders, `@` links, `|` plural forms. A
# literal one is written as {'{'} (vue-i18n's literal interpolation).
I18N_SPECIAL = re.compile(r"[{}@|]")
I18N_LITERAL = re.compile(r"\{'([{}@|])'\}")


def i18n_escape(text: str) -> str:
    return I18N_SPECIAL.sub(lambda m: "{'" + m.group() + "'}", text)


def i18n_unescape(message: str) -> str:
    """What the frontend shows for a message (the inverse of i18n_escape)."""
    return I18N_LITERAL.sub(lambda m: m.group(1), message)


def served_node_info(nodes, node_id: str) -> dict:
    """One node as ComfyUI 0.3.75's /object_info serves it (server.py, node_info)."""
    cls = nodes.NODE_CLASS_MAPPINGS[node_id]
    if hasattr(cls, "GET_NODE_INFO_V1"):
        return cls.GET_NODE_INFO_V1()
    inputs = cls.INPUT_TYPES()
    return {
        "input": inputs,
        "input_order": {section: list(specs) for section, specs in inputs.items()},
        "output": list(cls.RETURN_TYPES),
        "output_name": list(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)),
        "output_tooltips": list(getattr(cls, "OUTPUT_TOOLTIPS", [])),
        "name": node_id,
        "display_name": nodes.NODE_DISPLAY_NAME_MAPPINGS.get(node_id, node_id),
        "description": getattr(cls, "DESCRIPTION", ""),
        "python_module": getattr(cls, "RELATIVE_PYTHON_MODULE", "nodes"),
        "category": getattr(cls, "CATEGORY", "sd"),
    }


def pack_object_info(nodes, pack_folder: str = PACK_FOLDER) -> dict:
    """{node id: served info} for the nodes ComfyUI loaded from this pack, in registration order."""
    module = f"custom_nodes.{pack_folder}"
    return {node_id: served_node_info(nodes, node_id) for node_id, cls in nodes.NODE_CLASS_MAPPINGS.items()
            if getattr(cls, "RELATIVE_PYTHON_MODULE", "") == module}


def input_names(info: dict) -> list[str]:
    """Visible inputs in the order the frontend shows them: required, then optional."""
    order = info.get("input_order") or {k: list(v) for k, v in info["input"].items()}
    return [name for section in ("required", "optional") for name in order.get(section, [])]


def input_options(info: dict, name: str) -> dict:
    for section in ("required", "optional"):
        spec = info["input"].get(section, {}).get(name)
        if spec is not None:
            return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return {}


def locale_entry(info: dict) -> dict:
    """The frontend's nodeDefs locale entry of one served node, in English."""
    entry = {"display_name": i18n_escape(info["display_name"])}
    if info.get("description"):
        entry["description"] = i18n_escape(info["description"])
    inputs = {}
    for name in input_names(info):
        item = {"name": i18n_escape(name)}
        tooltip = input_options(info, name).get("tooltip")
        if tooltip:
            item["tooltip"] = i18n_escape(tooltip)
        inputs[name] = item
    if inputs:
        entry["inputs"] = inputs
    outputs = {}
    tooltips = info.get("output_tooltips") or []
    for index, name in enumerate(info.get("output_name") or info.get("output") or []):
        item = {"name": i18n_escape(name)}
        if index < len(tooltips) and tooltips[index]:
            item["tooltip"] = i18n_escape(tooltips[index])
        outputs[str(index)] = item
    if outputs:
        entry["outputs"] = outputs
    return entry


def english_node_defs(object_info: dict) -> dict:
    return {node_id: locale_entry(info) for node_id, info in object_info.items()}


def node_list(object_info: dict) -> dict:
    """{node id: display name}, the layout ComfyUI-Manager's scanner reads from node_list.json."""
    return {node_id: info["display_name"] for node_id, info in object_info.items()}


def render(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def load_pack_object_info() -> dict:
    import repo_path  # noqa: F401  (harness)
    from harness.comfy_host import ComfyHost

    host = ComfyHost()
    return pack_object_info(host.nodes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if locales/en/nodeDefs.json or node_list.json is out of date")
    args = parser.parse_args()
    info = load_pack_object_info()
    files = {ENGLISH: render(english_node_defs(info)), NODE_LIST: render(node_list(info))}
    if args.check:
        stale = [path for path, text in files.items()
                 if (path.read_text(encoding="utf-8") if path.exists() else "") != text]
        for path in stale:
            print(f"{path.relative_to(REPO)} is out of date: run scripts/build_locales.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
