"""The real-checkpoint templates (SD1.5, SDXL, Flux): each names its model files as their distributions do,
carries the `models` metadata frontends 1.32.9 and 1.58.1 read to offer a missing model for download, and
passes ComfyUI's own validate_prompt after the API conversion. Models that are not installed are stood in
for by empty files of the same name (validation checks names, not weights); running them on full-size
checkpoints is the full-size harness's job."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
from build_workflows import MODELS, PICTURE, REAL_WORKFLOWS  # noqa: E402
from workflow_api import FRONTEND_ONLY, check_links, to_api  # noqa: E402

TEMPLATES = REPO / "example_workflows"
# What the frontends accept (1.32.9 MissingModelsWarning.vue, 1.58.1 missingModelDownload.ts): https from
# these hosts, these suffixes, and a models/ folder the backend knows.
ALLOWED_SOURCES = ("https://huggingface.co/", "https://civitai.com/")
ALLOWED_SUFFIXES = (".safetensors", ".sft")
LOADER_WIDGETS = {"CheckpointLoaderSimple": ["ckpt_name"], "UNETLoader": ["unet_name"], "VAELoader": ["vae_name"],
                  "DualCLIPLoader": ["clip_name1", "clip_name2"]}
EXPECTED_FILES = {  # ComfyUI's own templates' names (SD1.5: its fp16 archive file; Flux: t5xxl_fp16, as core)
    "11 SD1.5 - SDE-Drag with the paper presets": {"v1-5-pruned-emaonly-fp16.safetensors"},
    "12 SD1.5 - SDE-Drag with identity LoRA": {"v1-5-pruned-emaonly-fp16.safetensors"},
    "16 SD1.5 - SDE-Drag fast preset": {"v1-5-pruned-emaonly-fp16.safetensors"},
    "13 SD1.5 - SDE vs ODE image-to-image and inpainting": {"v1-5-pruned-emaonly-fp16.safetensors"},
    "14 SDXL - SDE-Drag at 1024x1024": {"sd_xl_base_1.0.safetensors"},
    "15 Flux dev - SDE-Drag on a rectified-flow model": {"flux1-dev.safetensors", "clip_l.safetensors",
                                                        "t5xxl_fp16.safetensors", "ae.safetensors"},
    "17 Flux dev fp8 - SDE-Drag on smaller cards": {"flux1-dev-fp8.safetensors"},
}
LICENCE_WORDS = {"sd15": "CreativeML Open RAIL-M", "sdxl": "CreativeML Open RAIL++-M",
                 "flux": "FLUX.1 [dev] Non-Commercial License"}


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
    notes = " ".join(n["widgets_values"][0] for n in workflow["nodes"] if n["type"] in FRONTEND_ONLY)
    family = "flux" if "Flux" in name else "sdxl" if "SDXL" in name else "sd15"
    assert LICENCE_WORDS[family] in notes, f"{name}: its note names the model's licence"


@pytest.mark.parametrize("name", list(REAL_WORKFLOWS))
def test_a_real_checkpoint_template_opens_the_shipped_picture_resizes_it_and_groups_its_steps(name):
    """The photograph and its painted mask come from one Load Image; one size for picture and mask; the
    drag's points lie inside the painted mask at the resized size; every node sits in a titled group."""
    workflow = load(name)
    loads = [n for n in workflow["nodes"] if n["type"] == "LoadImage"]
    assert [n["widgets_values"][0] for n in loads] == [PICTURE]
    scales = [n for n in workflow["nodes"] if n["type"] == "ImageScale"]
    assert len(scales) == 2 and len({tuple(n["widgets_values"][1:4]) for n in scales}) == 1, scales
    width, height = scales[0]["widgets_values"][1:3]
    for points in (n for n in workflow["nodes"] if n["type"] == "SDEDragPoints"):
        example = json.loads(points["widgets_values"][0])
        assert (example["width"], example["height"]) == (width, height)
        mask = _painted_mask_at(width, height)
        for source, target in example["points"]:
            for x, y in (source, target):
                assert mask[int(y), int(x)], f"{name}: point {x},{y} is outside the painted mask"
    boxes = [g["bounding"] for g in workflow["groups"]]
    assert len(boxes) >= 4 and all(g["title"] for g in workflow["groups"])
    for node in workflow["nodes"]:
        x, y = node["pos"]
        assert any(bx <= x and by <= y and x + node["size"][0] <= bx + bw and y + node["size"][1] <= by + bh
                   for bx, by, bw, bh in boxes), f"{name}: {node['type']} {node['id']} is in no group"


def _painted_mask_at(width, height):
    """The shipped picture's painted mask (1 - alpha), resized as the template's ImageScale crop 'center' does."""
    import numpy as np
    from PIL import Image

    with Image.open(REPO / "example_pictures" / PICTURE) as im:
        alpha = np.asarray(im.getchannel("A"))
    h, w = alpha.shape
    if w * height > width * h:
        kept = round(h * width / height)
        alpha = alpha[:, (w - kept) // 2:(w - kept) // 2 + kept]
    else:
        kept = round(w * height / width)
        alpha = alpha[(h - kept) // 2:(h - kept) // 2 + kept]
    return np.asarray(Image.fromarray(alpha).resize((width, height), Image.NEAREST)) == 0


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
    yield
    for directory, folder in added:
        folder_paths.folder_names_and_paths[directory][0].remove(folder)
    folder_paths.filename_list_cache.clear()


def test_loading_the_pack_puts_the_templates_picture_with_its_painted_mask_where_load_image_finds_it(host):
    """Templates 11-17 open with the shipped photograph: the pack copies it into ComfyUI's input folder at
    load (never over a user's file), and Load Image reads its MASK from the alpha MaskEditor paints."""
    import folder_paths

    picture = Path(folder_paths.get_input_directory()) / PICTURE
    assert picture.is_file() and picture.read_bytes() == (REPO / "example_pictures" / PICTURE).read_bytes()
    image, mask = host.nodes.NODE_CLASS_MAPPINGS["LoadImage"]().load_image(PICTURE)
    assert tuple(image.shape) == (1, 400, 600, 3) and tuple(mask.shape) == (1, 400, 600)
    assert mask[0, 285, 365] == 1 and mask[0, 285, 425] == 1 and mask[0, 20, 20] == 0  # spoon, its target, outside
    assert 0.1 < float(mask.mean()) < 0.4


def test_the_example_pictures_never_overwrite_a_users_file(host, tmp_path):
    install = host.module("nodes.example_pictures").install_example_pictures
    (tmp_path / PICTURE).write_bytes(b"the user's own")
    assert install(str(tmp_path)) == []
    assert (tmp_path / PICTURE).read_bytes() == b"the user's own"
    fresh = tmp_path / "fresh"
    assert install(str(fresh)) == [PICTURE] and (fresh / PICTURE).stat().st_size > 100_000


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
