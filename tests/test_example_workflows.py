"""Every shipped workflow loads, links correctly and runs as shipped on the embedded demo model."""
import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from workflow_api import FRONTEND_ONLY, check_links, to_api  # noqa: E402

WORKFLOWS = sorted((REPO / "example_workflows").glob("*.json"))


def test_the_pack_ships_its_example_workflows():
    assert len(WORKFLOWS) >= 4


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
def test_a_shipped_workflow_runs_on_the_demo_model(host, path):
    import nodes

    workflow = json.loads(path.read_text())
    for node in workflow["nodes"]:
        assert node["type"] in nodes.NODE_CLASS_MAPPINGS or node["type"] in FRONTEND_ONLY, node["type"]
    assert any(node["type"] in FRONTEND_ONLY for node in workflow["nodes"]), "each workflow explains itself in a note"
    check_links(workflow, nodes.NODE_CLASS_MAPPINGS)
    prompt = to_api(workflow, nodes.NODE_CLASS_MAPPINGS)
    result = host.run(prompt)
    assert result.ok, result
    saved = [item for out in result.outputs.values() for item in out.get("images", [])]
    assert saved, "the workflow saves its results"


def test_the_shipped_workflows_are_what_the_builder_writes(host, tmp_path, monkeypatch):
    import build_workflows
    import nodes

    monkeypatch.setattr(build_workflows, "OUT", str(tmp_path))
    for written in build_workflows.build_all(nodes.NODE_CLASS_MAPPINGS):
        shipped = REPO / "example_workflows" / os.path.basename(written)
        assert json.loads(Path(written).read_text()) == json.loads(shipped.read_text()), shipped.name
