"""Per-step guidance and LoRA-scale ramps, indexed by loop step j (j = 0 at t0)."""

import math

import core_problems  # noqa: F401  (puts the repo root on sys.path)
import pytest

import sde_core


def test_paper_guidance_ramp_starts_at_cfg_and_falls_linearly_towards_one():
    scales = sde_core.guidance_scales(120, 3.0)
    assert len(scales) == 120 and scales[0] == 3.0
    assert scales[-1] == pytest.approx(1 + 2.0 / 120)
    assert scales[60] == pytest.approx(2.0)


def test_paper_lora_ramp_starts_at_the_minimum_and_rises_with_a_cosine_towards_one():
    scales = sde_core.lora_scales(120, 0.5)
    assert scales[0] == pytest.approx(0.5) and scales[60] == pytest.approx(0.75)
    assert scales[-1] == pytest.approx(0.5 + 0.5 * (1 + math.cos(math.pi / 120)) / 2)
    assert scales[-1] > 0.9999 and all(a < b for a, b in zip(scales, scales[1:]))
