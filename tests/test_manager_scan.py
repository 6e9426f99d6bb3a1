"""ComfyUI-Manager finds the pack: the node names its scanner would read from this tree are
exactly the 15 registered node ids.

The Manager's "install missing custom nodes" database is built by a scanner that reads a pack's
source without running it. `manager_scan` below follows its rules (as read in its scanner and as
the pack's issue 24 describes the current one):
- every .py file anywhere in the repository counts, tests included;
- legacy nodes: the string keys of a module-level `NODE_CLASS_MAPPINGS` / `NODE_CONFIG` dict,
  item assignments into a mapping by a quoted key, dict literals assigned to or merged into a
  mapping, `@register_node` with a quoted name, and a quoted key whose value is a dict with "class";
- V3 nodes: a class whose *direct* base is `ComfyNode` (`io.ComfyNode`), named by a `node_id`
  string literal in its own `define_schema`, else by its class name;
- the keys of a `node_list.json` at the root are merged in.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", ".host", "__pycache__", "node_modules", "output"}

LEGACY_PATTERNS = [
    re.compile(r"^[^=\n]*_CLASS_MAPPINGS\[\s*[\"']([^\"']+)[\"']\s*\]", re.M),
    re.compile(r"@register_node\(\s*\"([^\"]+)\"\s*,"),
    re.compile(r"\"(\w+)\"\s*:\s*\{\s*\"class\"\s*:"),
]
MAPPING_LITERAL = re.compile(r"_CLASS_MAPPINGS(?:\s*=\s*|\.update\s*\(\s*)\{([^}]*)\}", re.S)
QUOTED_KEY = re.compile(r"[\"']([^\"']*)[\"']\s*:")


def _is_comfy_node(base: ast.expr) -> bool:
    return (isinstance(base, ast.Name) and base.id == "ComfyNode") or \
        (isinstance(base, ast.Attribute) and base.attr == "ComfyNode")


def _schema_literal_id(cls: ast.ClassDef) -> str | None:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "define_schema":
            for node in ast.walk(item):
                if isinstance(node, ast.keyword) and node.arg == "node_id" and \
                        isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    return node.value.value
    return None


def names_in_source(code: str) -> set[str]:
    names: set[str] = set()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None
    if tree is not None:
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) and \
                    stmt.targets[0].id in ("NODE_CLASS_MAPPINGS", "NODE_CONFIG") and isinstance(stmt.value, ast.Dict):
                names |= {k.value.strip() for k in stmt.value.keys if isinstance(k, ast.Constant) and
                          isinstance(k.value, str)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(_is_comfy_node(b) for b in node.bases):
                names.add(_schema_literal_id(node) or node.name)
    code = re.sub(r"^#.*?$", "", code, flags=re.M)
    for pattern in LEGACY_PATTERNS:
        names |= {m.strip() for m in pattern.findall(code)}
    for body in MAPPING_LITERAL.findall(code):
        names |= {m.strip() for m in QUOTED_KEY.findall(body)}
    return names


def manager_scan(root: Path) -> set[str]:
    names: set[str] = set()
    for path in root.rglob("*.py"):
        if SKIP.intersection(path.relative_to(root).parts):
            continue
        names |= names_in_source(path.read_text(encoding="utf-8", errors="replace"))
    node_list = root / "node_list.json"
    if node_list.exists():
        names |= {key.strip() for key in json.loads(node_list.read_text(encoding="utf-8"))}
    return names


def test_the_scanner_rules_find_what_they_should_and_skip_what_they_should(tmp_path):
    """Positive controls: each rule finds its form; a helper base and a name in a comment are not nodes."""
    (tmp_path / "tests").mkdir()
    # The mapping name is joined at run time: written out here, the scan of this very file would
    # count the controls as nodes of the pack.
    mappings = "NODE_CLASS" + "_MAPPINGS"
    (tmp_path / "tests" / "helpers.py").write_text(mappings + ' = {"TestOnly": object}\n')
    (tmp_path / "v3.py").write_text(
        "from comfy_api.latest import io\n"
        "class Base:\n    pass\n"
        "class Literal(io.ComfyNode):\n    @classmethod\n    def define_schema(cls):\n"
        "        return io.Schema(node_id='LiteralId')\n"
        "class ByName(Base, io.ComfyNode):\n    pass\n"
        "class Indirect(ByName):\n    pass\n"
        "# " + mappings + "['Commented'] = 1\n")
    (tmp_path / "node_list.json").write_text('{"Listed": "x"}')
    assert manager_scan(tmp_path) == {"TestOnly", "LiteralId", "ByName", "Listed"}


def test_the_manager_scanner_finds_exactly_the_registered_node_ids(host):
    registered = set(host.node_classes)
    assert len(registered) == 15
    found = manager_scan(REPO)
    assert found == registered, {"not registered": sorted(found - registered),
                                 "not found": sorted(registered - found)}


def test_the_v3_rule_alone_finds_every_node_and_node_list_json_is_up_to_date(host):
    """Without node_list.json the class-name rule already finds them (each registered class names
    io.ComfyNode directly and is named as its node id); node_list.json equals the registered nodes."""
    found = set()
    for path in (REPO / "nodes").glob("*.py"):
        found |= names_in_source(path.read_text(encoding="utf-8"))
    assert found == set(host.node_classes)
    for node_id, cls in host.node_classes.items():
        assert cls.__name__ == node_id, (cls.__name__, node_id)
    listed = json.loads((REPO / "node_list.json").read_text(encoding="utf-8"))
    assert listed == {node_id: cls.GET_SCHEMA().display_name for node_id, cls in host.node_classes.items()}
