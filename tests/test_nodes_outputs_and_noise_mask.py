"""Where the pack's results live (issue 25 item 2) and what it does with a LATENT's noise_mask
(issue 25 item 5), on the tiny models through ComfyUI's executor.

Device: on this CPU-only host the model's load device and ComfyUI's intermediate device are both
the CPU, so a result left on the load device would look right. The tests therefore make
`comfy.model_management.intermediate_device()` answer `meta` (the one other device every torch
build has): the model still runs on the CPU, so only a node that moves its result to the
intermediate device, as `comfy/sample.py` does, returns `meta` tensors; a result left where the
model ran stays `cpu` and fails. (A `meta` input cannot be computed on, so a node that consumes
another pack node's output is run in a second prompt whose upstream nodes come from the cache of
a first, unpatched prompt.)
"""
from __future__ import annotations

import pytest
import torch

import graphs

META = torch.device("meta")


@pytest.fixture()
def meta_intermediate(host, monkeypatch):
    import comfy.model_management

    monkeypatch.setattr(comfy.model_management, "intermediate_device", lambda: META)


def _on_meta(value) -> bool:
    return isinstance(value, torch.Tensor) and value.device == META


def _only(graph: dict, *keep: str) -> dict:
    return {k: v for k, v in graph.items() if k in keep or k in ("model", "pos", "neg", "latent")}


def test_sde_drag_returns_its_latent_and_every_frame_on_the_intermediate_device(host, captured, meta_intermediate):
    for method in ("sde", "ode"):
        assert host.run(graphs.sde_drag("eps", method, steps=2, step_size=8)).ok
        assert _on_meta(captured["output"]["samples"]) and _on_meta(captured["frames"]["samples"]), method


@pytest.mark.parametrize("inversion", ["SDEDragStochasticInversion", "SDEDragODEInversion"])
def test_inversions_return_their_latent_and_whole_trajectory_on_the_intermediate_device(host, captured,
                                                                                        meta_intermediate, inversion):
    g = graphs.one_subdrag("eps", "sde" if inversion == "SDEDragStochasticInversion" else "ode", steps=2)
    g = graphs.capture(graphs.capture(_only(g, "inv"), "at_t0", ["inv", 0]), "trajectory", ["inv", 1])
    assert host.run(g).ok
    trajectory = captured["trajectory"].trajectory
    assert _on_meta(captured["at_t0"]["samples"]) and _on_meta(trajectory.states)


@pytest.mark.parametrize("method", ["sde", "ode"])
def test_both_denoisers_return_their_latent_on_the_intermediate_device(host, captured, monkeypatch, method):
    import comfy.model_management

    g = graphs.one_subdrag("eps", method, steps=2)
    upstream = graphs.capture(_only(g, "inv", "points", "paste"), "pasted", ["paste", 0])
    assert host.run(upstream).ok  # computed on the CPU and cached
    monkeypatch.setattr(comfy.model_management, "intermediate_device", lambda: META)
    assert host.run(g, fresh_cache=False).ok
    assert _on_meta(captured["output"]["samples"])


def test_fresh_denoise_and_diffedit_mask_return_on_the_intermediate_device(host, captured, meta_intermediate):
    assert host.run(graphs.fresh_denoise("eps", steps=2)).ok
    assert _on_meta(captured["output"]["samples"]) and _on_meta(captured["start"]["samples"])
    assert host.run(graphs.diffedit_mask("eps", noises=1)).ok
    assert all(_on_meta(captured[k]) for k in ("mask", "soft", "preview"))


BOX = (64, 64, 96, 64)  # image pixels (x, y, w, h) on the 256x256 image of a 32x32 latent; holds the drag


def _with_noise_mask(g: dict, into: str, width=32, height=32) -> dict:
    """The LATENT through Set Latent Noise Mask (BOX editable) before it reaches node `into`."""
    mask = graphs.box_mask(g, BOX, width, height)
    g["masked"] = {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["latent", 0], "mask": mask}}
    g[into]["inputs"]["latent"] = ["masked", 0]
    return g


def _outside(x: torch.Tensor, width=32, height=32) -> torch.Tensor:
    keep = torch.ones(height, width, dtype=torch.bool)
    x0, y0, w, h = (v // 8 for v in BOX)
    keep[y0:y0 + h, x0:x0 + w] = False
    return x[..., keep]


@pytest.mark.parametrize("method", ["sde", "ode"])
def test_sde_drag_honours_the_latents_noise_mask_as_its_mask_input(host, captured, method):
    g = graphs.sde_drag("eps", method, points="80,80 -> 112,80", steps=3, step_size=8)
    assert host.run(_with_noise_mask(g, "drag")).ok
    by_noise_mask, before = captured["output"]["samples"], captured["input"]["samples"]
    assert "noise_mask" in captured["output"]  # carried on, as KSampler's latent.copy() does
    assert torch.allclose(_outside(by_noise_mask), _outside(before), atol=1e-5)
    g = graphs.sde_drag("eps", method, points="80,80 -> 112,80", steps=3, step_size=8)
    g["drag"]["inputs"]["mask"] = graphs.box_mask(g, BOX, 32, 32)
    assert host.run(g).ok
    assert torch.equal(captured["output"]["samples"], by_noise_mask)


@pytest.mark.parametrize("method", ["sde", "ode"])
def test_a_noise_mask_set_before_inversion_reaches_the_denoiser_and_keeps_the_rest(host, captured, method):
    g = graphs.one_subdrag("eps", method, points="80,80 -> 112,80", steps=3)
    assert host.run(_with_noise_mask(g, "inv")).ok
    out, before = captured["output"]["samples"], captured["input"]["samples"]
    assert torch.allclose(_outside(out), _outside(before), atol=1e-5)
    assert (out - before).abs().max() > 1e-2  # inside the box the drag did edit


def test_diffedit_mask_is_zero_outside_the_latents_noise_mask(host, captured):
    g = graphs.diffedit_mask("eps", noises=1, threshold=0.0, width=32, height=32)
    assert host.run(_with_noise_mask(g, "mask")).ok
    soft = captured["soft"][0, ::8, ::8]
    assert torch.all(_outside(soft) == 0) and soft.max() > 0
