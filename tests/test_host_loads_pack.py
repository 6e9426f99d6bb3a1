"""The whole chain: the real ComfyUI loads the pack and runs graphs through its executor."""
from harness.tiny_models import FAMILIES


def test_comfyui_registers_every_node_of_the_pack(host):
    import nodes

    for name in host.node_classes:
        assert nodes.NODE_CLASS_MAPPINGS[name] is host.node_classes[name]
        assert name in nodes.NODE_DISPLAY_NAME_MAPPINGS
    assert "SDEDragPoints" in nodes.NODE_CLASS_MAPPINGS


def test_the_pack_serves_its_web_directory(host):
    import nodes

    assert any(path.endswith("web") and "SDE-Drag" in key for key, path in nodes.EXTENSION_WEB_DIRS.items())


def test_a_core_ksampler_graph_runs_on_every_tiny_model_family(host, captured):
    for family in FAMILIES:
        prompt = {
            "1": {"class_type": "TestTinyModel", "inputs": {"family": family, "seed": 0}},
            "2": {"class_type": "TestConditioning", "inputs": {"family": family, "seed": 1}},
            "3": {"class_type": "TestConditioning", "inputs": {"family": family, "seed": 2}},
            "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
            "5": {"class_type": "KSampler", "inputs": {
                "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
                "seed": 3, "steps": 2, "cfg": 4.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
            "6": {"class_type": "TestCapture", "inputs": {"label": family, "value": ["5", 0]}},
        }
        result = host.run(prompt)
        assert result.ok, (family, result)
        samples = captured[family]["samples"]
        assert samples.shape == (1, 4, 8, 8) and samples.isfinite().all(), family


def test_the_points_node_runs_in_a_graph_and_a_bad_value_is_a_node_error_naming_it(host, captured):
    good = {
        "1": {"class_type": "SDEDragPoints", "inputs": {"points": "10,12 -> 20,22"}},
        "2": {"class_type": "TestCapture", "inputs": {"label": "points", "value": ["1", 0]}},
    }
    assert host.run(good).ok
    assert captured["points"].pairs == (((10.0, 12.0), (20.0, 22.0)),)
    bad = {**good, "1": {"class_type": "SDEDragPoints", "inputs": {"points": '{"points": [[1, 2]'}}}
    result = host.run(bad)
    assert not result.ok and "drag_points" in result.error_message
    assert result.execution_error["node_type"] == "SDEDragPoints"
    assert host.run(good).ok  # the next prompt runs normally


def test_a_broken_import_in_the_pack_fails_loudly_naming_the_pack(tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    from harness.comfy_host import PACK_FOLDER, REPO, read_env

    broken = tmp_path / "pack"
    # demo/ is copied (the pack imports demo/model.py), its weights are not
    shutil.copytree(REPO, broken, ignore=shutil.ignore_patterns(".venv", ".host", ".git", "output", "weights"))
    (broken / "nodes" / "drag_points.py").write_text("import a_module_that_does_not_exist\n")
    (tmp_path / "base" / "custom_nodes").mkdir(parents=True)
    env = {**os.environ, "COMFYUI_ROOT": read_env()["COMFYUI_ROOT"], "COMFYUI_BASE": str(tmp_path / "base"),
           "SDE_DRAG_PACK_DIR": str(broken)}
    code = "from harness.comfy_host import ComfyHost; ComfyHost()"  # `-c` from the root: harness is importable
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert f"could not load the pack {PACK_FOLDER}" in proc.stderr
    assert "a_module_that_does_not_exist" in proc.stderr
