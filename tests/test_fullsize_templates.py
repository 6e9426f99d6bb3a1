"""Each shipped real-checkpoint template (example_workflows/11..17) runs as shipped on the harness's
full-size random checkpoint of its family, placed under the file name the template loads
(harness/fullsize_models.py: v1-5-pruned-emaonly-fp16, sd_xl_base_1.0, flux1-dev + clip_l +
t5xxl_fp16 + ae, flux1-dev-fp8).

What the test changes, and only that (tests/fullsize_run.py --template):
- step counts: drag, img2img and inpainting steps 200 / 50 -> 5 (t0 as shipped), identity-LoRA
  training steps 100 -> 2;
- the resize: the shipped photograph (example_pictures/, installed into ComfyUI's input folder by
  the pack at load, with its painted mask) is resized to a short side of 128 px instead of 512 /
  1024 (192x128 for SD1.5's 768x512, 128x128 for SDXL's and Flux's 1024x1024), since full size on
  a CPU is minutes per model call. SDEDragPoints rescales the templates' points with the picture.

Each template runs in a fresh process, so each peak RSS is that template's alone. Random weights make
noise images: what is checked is that ComfyUI's executor runs the whole graph and that every save node
gets finite images of the picture's size and writes its file. Marked `fullsize_extended`: minutes each,
over `make test`'s budget (`make test-full` runs them).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from fullsize_run import TEMPLATE_FAMILY, TEMPLATE_PICTURE_SIZE, TEMPLATE_STEPS, run_fresh

REPO = Path(__file__).resolve().parents[1]
from build_workflows import REAL_WORKFLOWS

PEAK_RSS_BOUND_GIB = 21.0  # as tests/test_fullsize_families.py: the 22 GB for the whole suite
# save node prefix -> how many images the template saves there (results: one; trajectories: an animation)
SAVES = {
    "11 SD1.5 - SDE-Drag with the paper presets": ["sde_drag_sd15/result", "sde_drag_sd15/trajectory"],
    "12 SD1.5 - SDE-Drag with identity LoRA": ["sde_drag_sd15_lora/result", "sde_drag_sd15_lora/trajectory"],
    "16 SD1.5 - SDE-Drag fast preset": ["sde_drag_sd15_fast/result", "sde_drag_sd15_fast/trajectory"],
    "13 SD1.5 - SDE vs ODE image-to-image and inpainting": [
        "sde_drag_sd15/img2img_sde", "sde_drag_sd15/img2img_ode", "sde_drag_sd15/inpaint_sde",
        "sde_drag_sd15/inpaint_ode"],
    "14 SDXL - SDE-Drag at 1024x1024": ["sde_drag_sdxl/result", "sde_drag_sdxl/trajectory"],
    "15 Flux dev - SDE-Drag on a rectified-flow model": ["sde_drag_flux/result", "sde_drag_flux/trajectory"],
    "17 Flux dev fp8 - SDE-Drag on smaller cards": ["sde_drag_flux_fp8/result", "sde_drag_flux_fp8/trajectory"],
}


def run_template(name: str) -> dict:
    return run_fresh(["--template", name], name, f"template-{name[:2]}", 3600)


def test_every_real_checkpoint_template_has_a_full_size_run_here():
    assert set(SAVES) == set(REAL_WORKFLOWS)
    assert {name[:2] for name in REAL_WORKFLOWS} == set(TEMPLATE_FAMILY)


@pytest.mark.fullsize_extended
@pytest.mark.parametrize("name", list(SAVES))
def test_a_real_checkpoint_template_runs_as_shipped_on_its_full_size_family(name):
    figures = run_template(name)
    assert figures["ok"], figures.get("error")
    assert figures["family"] == TEMPLATE_FAMILY[name[:2]]
    lowered = figures["steps_lowered"]
    steps = [step for step in lowered.values() if step["node"] != "ImageScale"]
    assert steps and all(step["run"] == TEMPLATE_STEPS[step["node"]] < step["shipped"] for step in steps)
    resized = {tuple(step["run"]) for step in lowered.values() if step["node"] == "ImageScale"}
    assert len(resized) == 1 and min(*resized) == TEMPLATE_PICTURE_SIZE, lowered
    width, height = resized.pop()
    assert sorted(figures["images"]) == sorted(SAVES[name]), figures["images"]
    for prefix, images in figures["images"].items():
        assert images["finite"], (prefix, images)
        assert images["shape"][1:] == [height, width, 3], (prefix, images)
        assert 0.0 <= images["min"] <= images["max"] <= 1.0, (prefix, images)
        assert images["std"] > 0, f"{prefix}: a flat image"
        # one frame per sub-drag (at least one, whatever the run size)
        assert images["shape"][0] >= 1, prefix
    files = {f["file"].rsplit("_", 2)[0]: f for f in figures["files"]}
    assert sorted(files) == sorted(SAVES[name]), figures["files"]
    for prefix, saved in files.items():
        assert saved["size"] == [width, height], saved
        assert saved["frames"] == figures["images"][prefix]["shape"][0], saved
        assert saved["distinct_values"] > 1, saved
    assert figures["peak_rss_gib"] < PEAK_RSS_BOUND_GIB, figures["peak_rss_gib"]
