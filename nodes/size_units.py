"""The unit of the drag's sizes, `r` and `step_size` (issue 27.2).

By default they count 64ths of the latent's short side: the paper's numbers (r 5, step_size 2,
given for SD1.5's 64x64 latents of 512 px pictures) then cover the same share of the picture
on every model: 5 cells on SD1.5 at 512 px, 10 on SDXL or Flux at 1024 px, 1.25 on the demo
model's 16x16 latents. "latent cells" is the unit of workflows saved before the choice
existed: such a workflow has no `size_unit` value, and the node (and the frontend's
migration, web/size_unit_migration.js) reads it in latent cells, so it runs as it did.
"""
from __future__ import annotations

import math

from comfy_api.v0_0_2 import io

SHORT_SIDE_64THS = "64ths of the short side"
LATENT_CELLS = "latent cells"
SIZE_UNITS = [SHORT_SIDE_64THS, LATENT_CELLS]
LEGACY_UNIT = LATENT_CELLS  # what a prompt without size_unit means: saved before the choice existed
PAPER_LATENT_SIDE = 64


def size_unit_input():
    return io.Combo.Input(
        "size_unit", options=SIZE_UNITS, default=SHORT_SIDE_64THS, optional=True,
        tooltip="Unit of r and step_size. '64ths of the short side': the paper's values mean the same share of the "
                "picture on every model (1 = one latent cell at 512 px, two at 1024 px). 'latent cells': as "
                "workflows saved before this choice (they load with it).")


def cells_per_unit(size_unit: str, height: int, width: int) -> float:
    """Latent cells in one unit: ``min(height, width) / 64`` for 64ths of the short side, 1 for
    latent cells."""
    if size_unit == LATENT_CELLS:
        return 1.0
    if size_unit == SHORT_SIDE_64THS:
        return min(height, width) / PAPER_LATENT_SIDE
    raise ValueError(f"size_unit: {size_unit!r} is not one of {SIZE_UNITS}")


def radius_cells(r, size_unit: str, height: int, width: int) -> int:
    """The copy-paste's half-size in whole cells: ``max(1, floor(r * c + 1/2))``, ``c`` the
    cells per unit (rounded half up, so 2.5 cells is 3 on every platform)."""
    return max(1, math.floor(r * cells_per_unit(size_unit, height, width) + 0.5))


def step_cells(step_size, size_unit: str, height: int, width: int) -> float:
    """A sub-drag's length in cells: ``step_size * c`` (the planner takes fractions)."""
    return step_size * cells_per_unit(size_unit, height, width)

