"""SDE/ODE image-to-image (SDEdit) and inpainting with fresh noise, through ComfyUI's executor."""
import pytest
import torch

import graphs
from harness.tiny_models import FAMILIES

BOX = (32, 32, 48, 48)  # image pixels -> latent cells 4..10 of a 16x16 latent
INSIDE = (slice(None), slice(None), slice(4, 10), slice(4, 10))


def _run(host, captured, **kw):
    result = host.run(graphs.fresh_denoise(**kw))
    assert result.ok, result
    return {k: captured[k]["samples"].clone() for k in ("input", "start", "output")}


def _outside(x):
    keep = torch.ones_like(x, dtype=torch.bool)
    keep[INSIDE] = False
    return x[keep]


@pytest.mark.parametrize("t0", [1.0, 0.6])
def test_inpainting_keeps_the_known_region_and_sde_differs_from_ode(host, captured, t0):
    sde = _run(host, captured, family="eps", eta=1.0, t0=t0, mask_box=BOX, steps=5)
    ode = _run(host, captured, family="eps", eta=0.0, t0=t0, mask_box=BOX, steps=5)
    for name, r in (("sde", sde), ("ode", ode)):
        outside = (_outside(r["output"]) - _outside(r["input"])).abs().max().item()
        inside = (r["output"] - r["input"])[INSIDE].abs().max().item()
        print(f"t0={t0} {name}: outside max abs error {outside:.2e}, inside max change {inside:.3f}")
        assert outside < 1e-5
        assert inside > 0.1
    assert torch.equal(sde["start"], ode["start"])
    assert (sde["output"] - ode["output"])[INSIDE].abs().max() > 1e-2


def test_the_latents_own_noise_mask_works_like_the_mask_input(host, captured):
    by_input = _run(host, captured, family="eps", eta=1.0, t0=0.6, mask_box=BOX, steps=3)
    by_noise_mask = _run(host, captured, family="eps", eta=1.0, t0=0.6, mask_box=BOX, steps=3, noise_mask=True)
    assert torch.allclose(by_input["output"], by_noise_mask["output"], atol=1e-5)


def test_img2img_approaches_the_input_as_t0_falls_and_sde_ode_share_the_start(host, captured):
    errors = {}
    for t0 in (0.6, 0.3, 0.1):
        sde = _run(host, captured, family="eps", eta=1.0, t0=t0, steps=10, cfg=1.0)
        ode = _run(host, captured, family="eps", eta=0.0, t0=t0, steps=10, cfg=1.0)
        assert torch.equal(sde["start"], ode["start"])  # same seed -> identical noised latent
        errors[t0] = [(r["output"] - r["input"]).abs().mean().item() for r in (sde, ode)]
        print(f"t0={t0}: mean abs error to the input SDE {errors[t0][0]:.4f}, ODE {errors[t0][1]:.4f}")
    for k in (0, 1):
        assert errors[0.1][k] < errors[0.3][k] < errors[0.6][k]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("eta", [1.0, 0.0])
def test_img2img_and_inpainting_run_end_to_end_on_every_family(host, captured, family, eta):
    r = _run(host, captured, family=family, eta=eta, t0=1.0, mask_box=BOX, steps=2)
    assert torch.isfinite(r["output"]).all()
    assert (_outside(r["output"]) - _outside(r["input"])).abs().max() < 1e-5


@pytest.mark.parametrize("noise_mask", [False, True], ids=["mask_input", "noise_mask"])
def test_an_inpainting_mask_of_a_size_that_is_neither_the_images_nor_the_latents_is_refused(host, noise_mask):
    graph = graphs.fresh_denoise("eps", steps=2, mask_box=BOX, noise_mask=noise_mask)  # 16x16 latent, 128x128 image
    graph["editable_bg"]["inputs"].update(width=100, height=100)
    result = host.run(graph)
    assert not result.ok
    name = "latent (its noise_mask)" if noise_mask else "mask"
    assert f"{name}: size 100x100 does not fit" in result.error_message, result.error_message
    assert "128x128" in result.error_message and "16x16" in result.error_message
