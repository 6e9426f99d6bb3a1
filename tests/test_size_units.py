"""r and step_size in a unit that means the same on every model (issue 27.2, nodes/size_units.py).

"64ths of the short side" scales the paper's values (given for 64x64 latents) by the latent's
short side; "latent cells" is what a prompt without `size_unit` means, so workflows saved
before the choice run as they did.
"""
import logging

import pytest
import torch

import graphs

SHORT, CELLS = "64ths of the short side", "latent cells"


@pytest.fixture()
def units(host):
    return host.module("nodes.size_units")


@pytest.mark.parametrize("height,width,r,step,r_cells,step_cells", [
    (64, 64, 5, 2, 5, 2.0),  # SD1.5 at 512 px: the paper's own numbers
    (128, 128, 5, 2, 10, 4.0),  # SDXL / Flux at 1024 px: twice the cells, the same share of the picture
    (16, 16, 12, 8, 3, 2.0),  # the demo model's 16x16 latent
    (96, 64, 5, 2, 5, 2.0),  # a portrait picture: the short side decides
    (64, 96, 5, 2, 5, 2.0),
    (16, 16, 2, 1, 1, 0.25),  # half a cell rounds up to one; the radius never falls below 1
    (16, 16, 1, 1, 1, 0.25),
])
def test_64ths_of_the_short_side_scale_with_the_latent(units, height, width, r, step, r_cells, step_cells):
    assert units.radius_cells(r, SHORT, height, width) == r_cells
    assert units.step_cells(step, SHORT, height, width) == step_cells
    assert step_cells / units.cells_per_unit(SHORT, height, width) == step


def test_latent_cells_are_taken_as_they_are_and_an_unknown_unit_is_refused(units):
    assert units.radius_cells(5, CELLS, 128, 128) == 5 and units.step_cells(2, CELLS, 16, 16) == 2
    with pytest.raises(ValueError, match="size_unit: 'pixels' is not one of"):
        units.radius_cells(5, "pixels", 64, 64)


def test_a_prompt_without_size_unit_means_latent_cells(units):
    assert units.LEGACY_UNIT == CELLS
    assert units.size_unit_input().default == SHORT  # a node made now


def _drag(host, captured, r, step_size, size_unit=None):
    graph = graphs.sde_drag("eps", points="48,48 -> 80,48", steps=4, step_size=step_size)
    graph["drag"]["inputs"]["r"] = r
    if size_unit is not None:
        graph["drag"]["inputs"]["size_unit"] = size_unit
    result = host.run(graph)
    assert result.ok, result
    return captured["output"]["samples"].clone(), captured["frames"]["samples"].shape[0]


def test_the_node_drags_the_same_in_either_unit_for_the_same_cells(host, captured, caplog):
    # graphs' 256 px picture has a 32x32 latent: one 64th of its short side is half a cell
    with caplog.at_level(logging.INFO):
        in_64ths, frames_64ths = _drag(host, captured, r=6, step_size=4, size_unit=SHORT)
    sizes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SDE Drag sizes: ")]
    assert sizes == [f"SDE Drag sizes: r 6 and step_size 4 in {SHORT} = 3 and 2 latent cells of 32x32"]
    in_cells, frames_cells = _drag(host, captured, r=3, step_size=2, size_unit=CELLS)
    assert frames_64ths == frames_cells == 2  # 4 cells moved in sub-drags of 2
    assert torch.equal(in_64ths, in_cells)


def test_a_saved_prompt_without_size_unit_runs_in_latent_cells_as_before(host, captured):
    absent, _ = _drag(host, captured, r=3, step_size=2)
    cells, _ = _drag(host, captured, r=3, step_size=2, size_unit=CELLS)
    shorter, _ = _drag(host, captured, r=3, step_size=2, size_unit=SHORT)
    assert torch.equal(absent, cells)
    assert not torch.equal(absent, shorter)  # the unit matters: the test can fail


def test_the_copy_paste_node_takes_the_unit_too(host, captured):
    def run(r, size_unit):
        graph = graphs.one_subdrag("eps", "sde")
        graph["paste"]["inputs"].update(r=r, size_unit=size_unit)
        result = host.run(graph)
        assert result.ok, result
        return captured["output"]["samples"].clone()

    assert torch.equal(run(6, SHORT), run(3, CELLS))


def test_an_unknown_unit_is_refused_at_validation_naming_the_input(host):
    graph = graphs.sde_drag("eps", steps=4)
    graph["drag"]["inputs"]["size_unit"] = "pixels"
    result = host.run(graph)
    assert not result.ok and "size_unit" in result.error_message, result.error_message


def test_the_template_saved_before_size_unit_runs_in_latent_cells(host, caplog):
    import json
    from pathlib import Path

    import nodes
    from workflow_api import to_api

    saved = json.loads((Path(__file__).resolve().parent / "fixtures" / "saved_before_size_unit_sde_drag.json").read_text())
    prompt = to_api(saved, nodes.NODE_CLASS_MAPPINGS)
    drag = next(node for node in prompt.values() if node["class_type"] == "SDEDragAllInOne")
    assert "size_unit" not in drag["inputs"] and drag["inputs"]["r"] == 3
    with caplog.at_level(logging.INFO):
        result = host.run(prompt)
    assert result.ok, result
    sizes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SDE Drag sizes: ")]
    assert sizes == [f"SDE Drag sizes: r 3 and step_size 2 in {CELLS} = 3 and 2 latent cells of 16x16"]
