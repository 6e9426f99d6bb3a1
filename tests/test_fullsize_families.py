"""The pack on full-size checkpoints of the families users load, through ComfyUI's executor.

Families (random weights, user-shaped files built by harness/fullsize_models.py from ComfyUI's
own classes, loaded by the loaders users use):
- sd15: SD1.5 (EPS), v1-5-pruned-emaonly-fp16.safetensors via Load Checkpoint;
- sd21v: SD2.1-768-v (V_PREDICTION), v2-1_768-ema-pruned.safetensors via Load Checkpoint;
- sdxl: SDXL base (EPS + ADM: pooled text and size embeddings), sd_xl_base_1.0.safetensors
  via Load Checkpoint;
- flux: Flux dev (rectified flow, guidance-distilled: FluxGuidance 3.5 in the positive, cfg 1)
  at full width (hidden 3072, 24 heads) with 1 double-stream and 1 single-stream block
  instead of 19 and 38 (FLUX_DOUBLE_BLOCKS / FLUX_SINGLE_BLOCKS), via Load Diffusion Model +
  DualCLIPLoader (clip_l + all 24 layers of t5xxl_fp8_e4m3fn, type flux) + Load VAE (ae).

Each family runs in its own fresh process (tests/fullsize_run.py), one full-size model in
memory at a time, its memory returned to the system before the next. The default suite runs
a reconstruction and an SDE drag on each; the tests marked `fullsize_extended` (`make
test-full`) add the ODE-Drag baseline, img2img, inpainting, DiffEdit, the SDE Sampler in core
SamplerCustom and an identity LoRA reloaded by the core loader (not on SDXL: its training
holds a second fp32 copy of the UNet, 2 x 10 GB, over the suite's 22 GB). Random weights make noise
images: only shapes, finiteness, exactness, masks and plumbing mean anything here.
"""
from __future__ import annotations

import pytest

from harness.fullsize_models import FAMILIES
from fullsize_run import run_fresh

EXPECTED = {family: (spec["config"], spec["model_type"]) for family, spec in FAMILIES.items()}
# Cycle-SDE is exact up to float32 rounding: measured 1e-5 .. 5e-5 max abs error (docs/fullsize.md);
# the bound leaves room for other CPUs' summation order.
RECONSTRUCTION_BOUND = 2e-4
PEAK_RSS_BOUND_GIB = 21.0  # the 22 GB for the whole suite; the pytest parent stays small


def run_family(family: str, extended: bool) -> dict:
    return run_fresh([family] + (["--extended"] if extended else []), family,
                     f"{family}{'-extended' if extended else ''}", 3600 if extended else 1800)


@pytest.fixture(scope="module", params=list(FAMILIES))
def family_run(request):
    return run_family(request.param, extended=False)


@pytest.fixture(scope="module", params=["sd15", "flux", "sd21v", "sdxl"])  # the slowest last
def extended_run(request):
    return run_family(request.param, extended=True)


def test_the_file_loads_as_its_family_and_model_type_through_the_users_loader(family_run):
    detected = family_run["detected"]
    assert (detected["config"], detected["model_type"]) == EXPECTED[family_run["family"]]
    channels = 16 if family_run["family"] == "flux" else 4
    size = family_run["settings"]["size"] // 8
    assert detected["latent_shape"] == [1, channels, size, size]
    assert detected["latent_finite"]


def a_finite_latent(out: dict) -> dict:
    """`out`, the figures of one run on the family, after checking that it ran (no error) and gave a finite
    latent of the input's shape."""
    assert "error" not in out, out
    assert out["finite"] and out["shape"] == out["input_shape"], out
    return out


def test_cycle_sde_reconstruction_returns_the_input_within_float32_rounding(family_run):
    rec = family_run["reconstruction"]
    assert rec["finite"] and rec["dtype"] == "float32"
    assert rec["input_max_abs"] > 0.1  # a real latent, not zeros
    assert rec["max_abs_error"] < RECONSTRUCTION_BOUND, rec


def test_sde_drag_gives_a_finite_latent_that_changes_inside_the_mask_only(family_run):
    drag = a_finite_latent(family_run["drag"]["sde"])
    assert drag["inside_max_change"] > 0.05, drag
    assert drag["outside_max_change"] < RECONSTRUCTION_BOUND, drag  # outside is the recording: exact
    size = family_run["settings"]["size"]
    assert drag["image_shape"] == [1, size, size, 3] and drag["image_finite"]


def test_one_family_run_peaks_well_under_the_machines_memory(family_run):
    assert family_run["peak_rss_gib"] < PEAK_RSS_BOUND_GIB, family_run["peak_rss_gib"]


@pytest.mark.fullsize_extended
def test_ode_drag_changes_the_latent_inside_the_mask_far_more_than_outside(extended_run):
    drag = a_finite_latent(extended_run["drag_ode"])
    assert drag["inside_max_change"] > 0.05, drag
    # DDIM inversion is not exact: outside keeps the ODE's own reconstruction of the input
    assert drag["outside_max_change"] < drag["inside_max_change"], drag


@pytest.mark.fullsize_extended
def test_sde_and_ode_img2img_give_finite_latents_of_the_input_shape_that_differ_from_it(extended_run):
    assert "error" not in extended_run["img2img"], extended_run["img2img"]
    for method, out in extended_run["img2img"].items():
        a_finite_latent(out)
        assert out["inside_max_change"] > 0.05 and out["outside_max_change"] > 0.05, (method, out)


@pytest.mark.fullsize_extended
def test_inpainting_keeps_the_latent_outside_the_mask_and_changes_it_inside(extended_run):
    out = a_finite_latent(extended_run["inpaint"])
    assert out["inside_max_change"] > 0.05, out
    assert out["outside_max_change"] < 1e-4, out


@pytest.mark.fullsize_extended
def test_diffedit_gives_an_image_size_mask_and_a_finite_edit(extended_run):
    out = extended_run["diffedit"]
    assert "error" not in out, out
    size = extended_run["settings"]["size"]
    assert out["mask_shape"][-2:] == [size, size], out
    assert 0.0 < out["mask_fraction"] < 1.0, out
    assert out["finite"], out


@pytest.mark.fullsize_extended
def test_the_sde_sampler_runs_inside_core_sampler_custom(extended_run):
    out = a_finite_latent(extended_run["sampler_custom"])
    assert out["max_change"] > 0.05, out


@pytest.mark.fullsize_extended
def test_an_identity_lora_saved_and_reloaded_by_the_core_loader_changes_the_output(extended_run):
    out = extended_run["lora"]  # SDXL included: training no longer copies the UNet (nodes/train_in_place.py)
    assert "error" not in out, out
    assert out["lora_name"].endswith(".safetensors") and out["finite"], out
    assert out["max_change_vs_base"] > 1e-6, out


@pytest.mark.fullsize_extended
def test_the_extended_run_also_peaks_well_under_the_machines_memory(extended_run):
    assert extended_run["peak_rss_gib"] < PEAK_RSS_BOUND_GIB, extended_run["peak_rss_gib"]
