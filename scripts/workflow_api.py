"""UI-format workflows (what ComfyUI's frontend saves) <-> API-format prompts.

`to_api(workflow, node_classes)` does what the frontend's graphToPrompt does for the workflows
this pack ships: widget values are matched to the node's widget inputs in declaration order
(with the extra values the frontend stores after a `control_after_generate` input and after
an `image_upload` combo), links become `[origin_id, slot]`, Reroute and PrimitiveNode are
resolved, and frontend-only nodes (Note, MarkdownNote) and muted nodes are dropped.
`WorkflowBuilder` writes such workflows from a compact description, so the shipped JSON and
the API prompt the tests run come from one source.
"""
from __future__ import annotations

import json

FRONTEND_ONLY = {"Note", "MarkdownNote"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def is_widget(declared) -> bool:
    kind = declared[0]
    return isinstance(kind, (list, tuple)) or kind in WIDGET_TYPES


def widget_inputs(node_class) -> list[tuple[str, tuple]]:
    spec = node_class.INPUT_TYPES()
    out = []
    for group in ("required", "optional"):
        for name, declared in spec.get(group, {}).items():
            if is_widget(declared):
                out.append((name, declared))
    return out


def _extra_values(declared) -> int:
    """Widget values the frontend stores after this input's own value."""
    options = declared[1] if len(declared) > 1 and isinstance(declared[1], dict) else {}
    return int(bool(options.get("control_after_generate"))) + int(bool(options.get("image_upload")))


class UnknownNode(ValueError):
    pass


def to_api(workflow: dict, node_classes: dict) -> dict:
    nodes = {n["id"]: n for n in workflow["nodes"]}
    links = {link[0]: link for link in workflow.get("links", [])}

    def source_of(link_id):
        """Follow Reroutes to the real origin; a PrimitiveNode gives its value instead."""
        link = links[link_id]
        origin = nodes[link[1]]
        if origin["type"] == "Reroute":
            return source_of(origin["inputs"][0]["link"])
        if origin["type"] == "PrimitiveNode":
            return ("value", origin["widgets_values"][0])
        return ("link", [str(origin["id"]), link[2]])

    prompt = {}
    for node in workflow["nodes"]:
        kind = node["type"]
        if kind in FRONTEND_ONLY or kind in ("Reroute", "PrimitiveNode") or node.get("mode", 0) in (2, 4):
            continue
        if kind not in node_classes:
            raise UnknownNode(f"node {node['id']}: type {kind!r} is not registered")
        cls = node_classes[kind]
        inputs = {}
        values = list(node.get("widgets_values") or [])
        for name, declared in widget_inputs(cls):
            if values:
                inputs[name] = values.pop(0)
                del values[:_extra_values(declared)]
        for slot in node.get("inputs", []):
            if slot.get("link") is not None:
                how, value = source_of(slot["link"])
                inputs[slot["name"]] = value
        prompt[str(node["id"])] = {"class_type": kind, "inputs": inputs}
    return prompt


def check_links(workflow: dict, node_classes: dict) -> None:
    """Every link joins existing nodes on declared slots of matching types."""
    nodes = {n["id"]: n for n in workflow["nodes"]}
    for link_id, origin, o_slot, target, t_slot, kind in workflow.get("links", []):
        for end in (origin, target):
            if end not in nodes:
                raise ValueError(f"link {link_id}: node {end} does not exist")
        o_node, t_node = nodes[origin], nodes[target]
        if o_node["type"] not in ("Reroute", "PrimitiveNode"):
            returns = node_classes[o_node["type"]].RETURN_TYPES
            if o_slot >= len(returns) or (returns[o_slot] != kind and kind != "*"):
                raise ValueError(f"link {link_id}: {o_node['type']} output {o_slot} is not {kind}")
        if t_node["type"] != "Reroute":
            slot = t_node["inputs"][t_slot]
            spec = node_classes[t_node["type"]].INPUT_TYPES()
            declared = {**spec.get("required", {}), **spec.get("optional", {})}.get(slot["name"])
            if declared is None:
                raise ValueError(f"link {link_id}: {t_node['type']} has no input {slot['name']!r}")
            if not is_widget(declared) and declared[0] != kind:
                raise ValueError(f"link {link_id}: {t_node['type']}.{slot['name']} takes {declared[0]}, not {kind}")


class WorkflowBuilder:
    """Writes a UI-format workflow. `add` places nodes in columns; `connect` links slots."""

    def __init__(self, node_classes: dict):
        self.classes = node_classes
        self.nodes, self.links, self.groups = [], [], []

    def add(self, kind: str, pos, widgets: dict | None = None, title: str | None = None, size=None,
            properties: dict | None = None) -> int:
        node_id = len(self.nodes) + 1
        values = []
        if kind in FRONTEND_ONLY:
            values = [widgets["text"]]
        else:
            cls = self.classes[kind]
            for name, declared in widget_inputs(cls):
                options = declared[1] if len(declared) > 1 and isinstance(declared[1], dict) else {}
                if widgets and name in widgets:
                    value = widgets[name]
                elif "default" in options:
                    value = options["default"]
                elif isinstance(declared[0], (list, tuple)) and declared[0]:
                    value = declared[0][0]
                else:
                    continue
                values.append(value)
                if options.get("control_after_generate"):
                    values.append("fixed")
                if options.get("image_upload"):
                    values.append("image")
        outputs = []
        if kind not in FRONTEND_ONLY:
            cls = self.classes[kind]
            names = getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES
            outputs = [{"name": n, "type": t, "links": [], "slot_index": i}
                       for i, (n, t) in enumerate(zip(names, cls.RETURN_TYPES))]
        node = {"id": node_id, "type": kind, "pos": list(pos), "size": list(size or [320, 160]), "flags": {},
                "order": node_id - 1, "mode": 0, "inputs": [], "outputs": outputs,
                "properties": {"Node name for S&R": kind, **(properties or {})}, "widgets_values": values}
        if title:
            node["title"] = title
        if kind in FRONTEND_ONLY:
            node["color"], node["bgcolor"] = "#432", "#653"
        self.nodes.append(node)
        return node_id

    def connect(self, origin: int, slot: int, target: int, input_name: str) -> None:
        o_node, t_node = self.nodes[origin - 1], self.nodes[target - 1]
        kind = o_node["outputs"][slot]["type"]
        link_id = len(self.links) + 1
        slot_entry = {"name": input_name, "type": kind, "link": link_id}
        spec = self.classes[t_node["type"]].INPUT_TYPES()
        declared = {**spec.get("required", {}), **spec.get("optional", {})}.get(input_name)
        if declared is None:
            raise ValueError(f"{t_node['type']} has no input {input_name!r}")
        if is_widget(declared):  # a widget fed by a link, as the frontend saves it
            slot_entry["widget"] = {"name": input_name}
        t_node["inputs"].append(slot_entry)
        o_node["outputs"][slot]["links"].append(link_id)
        self.links.append([link_id, origin, slot, target, len(t_node["inputs"]) - 1, kind])

    def workflow(self) -> dict:
        return {"last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": self.nodes,
                "links": self.links, "groups": self.groups, "config": {}, "extra": {"ds": {"scale": 0.7, "offset": [80, 60]}},
                "version": 0.4}

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.workflow(), f, indent=1)
            f.write("\n")
