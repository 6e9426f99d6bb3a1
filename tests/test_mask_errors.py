"""A mask that leaves nothing editable, or a drag from or to a kept cell, is an error naming the
cause and the fix, seen through ComfyUI's executor with Load Image's own MASK output (issue 27.1).
No mask connected = the whole image editable (the drag runs)."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import graphs
import sde_core

SIZE = 256  # the tiny model's 32x32 latent at factor 8


def _input_png(name: str, rgba: np.ndarray) -> str:
    import folder_paths

    folder = Path(folder_paths.get_input_directory())
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba).save(folder / name)
    return name


def _drag_with_load_image_mask(picture: str, points: str = "48,48 -> 80,80") -> dict:
    graph = graphs.sde_drag("eps", steps=3, points=points)
    graph["load"] = {"class_type": "LoadImage", "inputs": {"image": picture}}
    graph["drag"]["inputs"]["mask"] = ["load", 1]  # Load Image's MASK: 1 - alpha, as ComfyUI makes it
    return graph


def test_an_unpainted_load_image_mask_of_a_picture_without_alpha_is_an_error_naming_the_fix(host):
    picture = _input_png("sde_drag_test_no_alpha.png", np.full((SIZE, SIZE, 3), 128, np.uint8))
    result = host.run(_drag_with_load_image_mask(picture))
    assert not result.ok
    message = result.error_message
    assert "mask: nothing is editable (the mask is all zero)" in message, message
    assert "MaskEditor" in message and "disconnect the mask" in message, message


def test_a_fully_opaque_png_gives_the_same_error_at_full_size(host):
    picture = _input_png("sde_drag_test_opaque.png", np.full((SIZE, SIZE, 4), 255, np.uint8))
    result = host.run(_drag_with_load_image_mask(picture))
    assert not result.ok and "mask: nothing is editable" in result.error_message, result.error_message


def _painted(box) -> np.ndarray:
    rgba = np.full((SIZE, SIZE, 4), 200, np.uint8)
    rgba[..., 3] = 255
    x0, y0, x1, y1 = box
    rgba[y0:y1, x0:x1, 3] = 0  # what MaskEditor's brush does: alpha 0 = editable
    return rgba


@pytest.mark.parametrize("points,role", [("200,200 -> 80,80", "source"), ("48,48 -> 200,200", "target")])
def test_a_drag_with_a_point_outside_the_painted_region_is_an_error_naming_the_point(host, points, role):
    picture = _input_png("sde_drag_test_painted.png", _painted((16, 16, 120, 120)))
    result = host.run(_drag_with_load_image_mask(picture, points))
    assert not result.ok
    message = result.error_message
    assert f"mask: the {role} point of pair 1, latent cell (25, 25), lies outside the editable region" in message
    assert "disconnect the mask" in message, message


def test_a_painted_mask_covering_the_drag_runs_and_no_mask_means_everything_is_editable(host, captured):
    picture = _input_png("sde_drag_test_painted_ok.png", _painted((16, 16, 120, 120)))
    assert host.run(_drag_with_load_image_mask(picture)).ok
    assert host.run(graphs.sde_drag("eps", steps=3)).ok


def test_the_core_checks_name_the_batch_element_and_accept_a_soft_edge():
    latent_shape = (2, 4, 8, 8)
    masks = torch.ones(2, 8, 8)
    masks[1] = 0
    with pytest.raises(ValueError, match=r"nothing is editable \(the mask is all zero \(batch element 1\)\)"):
        sde_core.check_mask(masks, latent_shape)
    soft = torch.zeros(8, 8)
    soft[2, 3] = 0.25  # a cell a mask edge cuts still counts as editable
    mask = sde_core.check_mask(soft, latent_shape)
    sde_core.check_points_in_mask([[3.0, 2.0]], [[3.9, 2.5]], mask)
    with pytest.raises(ValueError, match=r"target point of pair 1, latent cell \(4, 2\)"):
        sde_core.check_points_in_mask([[3.0, 2.0]], [[4.0, 2.0]], mask)


def test_a_0_255_mask_is_an_error_naming_the_fix_not_clamped_to_all_editable(host):
    """Clamping made a 0..255 mask (what a raw 8-bit image gives) editable everywhere it was not 0."""
    masks = host.module("nodes.masks")
    mask = torch.zeros(1, 16, 16)
    mask[:, 4:8, 4:8] = 255.0
    with pytest.raises(ValueError) as info:
        masks.mask_for(mask, (1, 4, 16, 16), 8)
    assert str(info.value).startswith("mask: values must lie in [0, 1] (1 = editable), got 0 to 255; a 0-255 mask: "
                                      "divide it by 255")
    assert masks.mask_for(mask / 255.0, (1, 4, 16, 16), 8).max() == 1.0  # the fix it names works


def test_sigmas_that_stop_above_zero_are_an_error_not_extended_to_zero(host):
    """SplitSigmas' high half ends above 0; appending a 0 ran the steps the user had cut away."""
    from harness import tiny_models

    model_space = host.module("nodes.model_space")
    with pytest.raises(ValueError) as info:
        model_space.choose_sigmas(tiny_models.build("eps"), torch.tensor([6.0, 3.0, 1.0]), 10, 0.6)
    assert str(info.value).startswith("sigmas: must end at 0 (the clean image), got 1 at the end")
    assert model_space.choose_sigmas(tiny_models.build("eps"), torch.tensor([6.0, 3.0, 0.0]), 10, 0.6)[-1] == 0
