"""The real-checkpoint templates (SD1.5, SDXL, Flux): each names its model files as their distributions do,
carries the `models` metadata frontends 1.32.9 and 1.58.1 read to offer a missing model for download, and
passes ComfyUI's own validate_prompt after the API conversion. Models that are not installed are stood in
for by empty files of the same name (validation checks names, not weights); running them on full-size
checkpoints is the full-size harness's job."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from build_workflows import MODELS, PICTURE, PICTURE_MASK, REAL_WORKFLOWS  # noqa: E402
from workflow_api import FRONTEND_ONLY, check_links, to_api  # noqa: E402

TEMPLATES = REPO / "example_workflows"
# What the frontends accept (1.32.9 MissingModelsWarning.vue, 1.58.1 missingModelDownload.ts): https from
# these hosts, these suffixes, and a models/ folder the backend knows.
ALLOWED_SOURCES = ("https://huggingface.co/", "https://civitai.com/")
ALLOWED_SUFFIXES = (".safetensors", ".sft")
LOADER_WIDGETS = {"CheckpointLoaderSimple": ["ckpt_name"], "UNETLoader": ["unet_name"], "VAELoader": ["vae_name"],
                  "DualCLIPLoader": ["clip_name1", "clip_name2"]}
EXPECTED_FILES = {
    "11 SD1.5 - SDE-Drag with the paper presets": {"v1-5-pruned-emaonly.safetensors"},
    "12 SD1.5 - SDE-Drag with identity LoRA": {"v1-5-pruned-emaonly.safetensors"},
    "16 SD1.5 - SDE-Drag fast preset": {"v1-5-pruned-emaonly.safetensors"},
    "13 SD1.5 - SDE vs ODE image-to-image and inpainting": {"v1-5-pruned-emaonly.safetensors"},
    "14 SDXL - SDE-Drag at 1024x1024": {"sd_xl_base_1.0.safetensors"},
    "15 Flux dev - SDE-Drag on a rectified-flow model": {"flux1-dev.safetensors", "clip_l.safetensors",
                                                        "t5xxl_fp8_e4m3fn.safetensors", "ae.safetensors"},
}


def load(name):
    return json.loads((TEMPLATES / f"{name}.json").read_text())


def test_every_real_checkpoint_template_is_listed_with_the_files_it_needs():
    assert set(EXPECTED_FILES) == set(REAL_WORKFLOWS)


@pytest.mark.parametrize("name", list(REAL_WORKFLOWS))
def test_a_real_checkpoint_template_declares_each_model_it_loads_for_download(name):
    workflow = load(name)
    declared = set()
    for node in workflow["nodes"]:
        if node["type"] not in LOADER_WIDGETS:
            assert "models" not in node["properties"], node["type"]
            continue
        models = node["properties"].get("models")
        assert isinstance(models, list) and models, f"{node['type']} has no models list"
        selected = {v for v in node["widgets_values"] if isinstance(v, str)}
        for model in models:
            assert set(model) == {"name", "url", "directory"}, model
            assert all(isinstance(model[k], str) and model[k] for k in model), model
            assert model["name"] in selected, f"{model['name']} is not what {node['type']} loads"
            assert model["url"].startswith(ALLOWED_SOURCES) and model["url"].split("?")[0].endswith(
                "/" + model["name"]), model["url"]
            assert model["name"].endswith(ALLOWED_SUFFIXES), model
            assert MODELS[model["name"]][0] == model["directory"], model
            declared.add(model["name"])
        loaded = {v for w, v in zip(LOADER_WIDGETS[node["type"]], node["widgets_values"])}
        assert loaded <= {m["name"] for m in models}, (node["type"], loaded)
    assert declared == EXPECTED_FILES[name]
    assert any(n["type"] in FRONTEND_ONLY for n in workflow["nodes"]), "each template explains itself in a note"


@pytest.fixture()
def stand_in_models(host, tmp_path):
    """Every model file the templates name, visible to ComfyUI: the installed one, else an empty stand-in."""
    import folder_paths

    added = []
    for name, (directory, _) in MODELS.items():
        if name in folder_paths.get_filename_list(directory):
            continue
        folder = tmp_path / directory
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes(b"")
        if str(folder) not in folder_paths.get_folder_paths(directory):
            folder_paths.add_model_folder_path(directory, str(folder))
            added.append((directory, str(folder)))
    folder_paths.filename_list_cache.clear()
    input_dir = Path(folder_paths.get_input_directory())
    input_dir.mkdir(parents=True, exist_ok=True)
    written = []
    from PIL import Image

    for picture in (PICTURE, PICTURE_MASK):
        if not (input_dir / picture).exists():
            Image.new("RGB", (512, 512), (120, 90, 60)).save(input_dir / picture)
            written.append(input_dir / picture)
    yield
    for directory, folder in added:
        folder_paths.folder_names_and_paths[directory][0].remove(folder)
    folder_paths.filename_list_cache.clear()
    for path in written:
        path.unlink()


@pytest.mark.parametrize("name", list(REAL_WORKFLOWS))
def test_a_real_checkpoint_template_passes_comfyuis_validation(host, stand_in_models, name):
    import nodes

    workflow = load(name)
    check_links(workflow, nodes.NODE_CLASS_MAPPINGS)
    prompt = to_api(workflow, nodes.NODE_CLASS_MAPPINGS)
    valid, error, outputs, node_errors = host.validate(prompt)
    assert valid and not node_errors, (error, node_errors)
    saves = [k for k, v in prompt.items() if v["class_type"] in ("SaveImage", "SaveAnimatedWEBP")]
    assert sorted(outputs) == sorted(saves), "every save node is an output ComfyUI will run"
