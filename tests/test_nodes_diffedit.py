"""DiffEdit mask and DiffEdit-SDE through ComfyUI's executor, on the tiny models."""
import pytest
import torch

import graphs
from harness.tiny_models import FAMILIES


def _mask(host, captured, **kw):
    result = host.run(graphs.diffedit_mask(**kw))
    assert result.ok, result
    return {k: captured[k].clone() for k in ("mask", "soft", "preview")}


def test_the_mask_is_a_valid_binary_mask_of_the_image_size_and_deterministic_for_a_seed(host, captured):
    a = _mask(host, captured, family="eps", seed=3)
    b = _mask(host, captured, family="eps", seed=3, blur=0.0, threshold=0.5)
    mask, soft = a["mask"], a["soft"]
    print(f"DiffEdit mask: {mask.mean().item():.2%} of the image selected, soft map max {soft.max().item():.3f}")
    assert mask.shape == (1, 128, 128) and a["preview"].shape == (1, 128, 128, 3)
    assert ((mask == 0) | (mask == 1)).all()
    assert soft.min() >= 0 and soft.max() == pytest.approx(1.0)
    assert 0 < mask.mean() < 1
    assert torch.equal(a["mask"], b["mask"])


def test_equal_conditionings_give_an_all_zero_mask(host, captured):
    m = _mask(host, captured, family="eps", same=True)
    assert (m["mask"] == 0).all() and (m["soft"] == 0).all()


def test_blur_and_threshold_shape_the_mask(host, captured):
    sharp = _mask(host, captured, family="eps", threshold=0.3)
    blurred = _mask(host, captured, family="eps", threshold=0.3, blur=1.5)
    assert ((blurred["mask"] == 0) | (blurred["mask"] == 1)).all()
    assert not torch.equal(sharp["soft"], blurred["soft"])


@pytest.mark.parametrize("family", FAMILIES)
def test_diffedit_sde_edits_inside_the_mask_and_keeps_the_reconstruction_outside(host, captured, family):
    # "reconstruction" is the same graph's Cycle-SDE denoise with the source prompt on both branches and no
    # mask: it must return the input (the Nodes issue's reconstruction bound).
    result = host.run(graphs.diffedit_sde(family, threshold=0.3))
    assert result.ok, result
    out, inp, rec = (captured[k]["samples"] for k in ("output", "input", "reconstruction"))
    mask = captured["mask"][:, ::8, ::8][:, None].expand_as(out).bool()  # image -> latent cells
    assert mask.any() and (~mask).any()
    outside = (out - rec)[~mask].abs().max().item()
    inside = (out - inp)[mask].abs().max().item()
    rec_error = (rec - inp).abs().max().item()
    print(f"{family}: DiffEdit-SDE outside vs reconstruction {outside:.2e}, inside change {inside:.3f}, "
          f"reconstruction error {rec_error:.2e}")
    assert outside < 1e-4 and rec_error < 1e-4
    assert inside > 1e-2



def test_the_mask_has_the_input_images_size_on_the_demo_model_whose_vae_downscales_by_4(host, captured):
    """The factor comes from the model (the demo VAE: 64x64 image <-> 16x16 latent), not a fixed 8;
    the SD-family factor 8 is asserted above (16x16 latent -> 128x128 mask)."""
    g = {
        "loader": {"class_type": "SDEDragDemoLoader", "inputs": {}},
        "image": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
        "latent": {"class_type": "VAEEncode", "inputs": {"pixels": ["image", 0], "vae": ["loader", 2]}},
        "source": {"class_type": "CLIPTextEncode", "inputs": {"text": "red disc", "clip": ["loader", 1]}},
        "target": {"class_type": "CLIPTextEncode", "inputs": {"text": "blue square", "clip": ["loader", 1]}},
        "mask": {"class_type": "SDEDragDiffEditMask", "inputs": {
            "model": ["loader", 0], "latent": ["latent", 0], "source": ["source", 0], "target": ["target", 0],
            "strength": 0.5, "noises": 2, "threshold": 0.5, "blur": 0.0, "seed": 3}},
    }
    graphs.capture(g, "latent", ["latent", 0])
    graphs.capture(g, "mask", ["mask", 0])
    graphs.capture(g, "preview", ["mask", 2])
    result = host.run(g)
    assert result.ok, result
    assert captured["latent"]["samples"].shape[-2:] == (16, 16)
    assert captured["mask"].shape == (1, 64, 64)
    assert captured["preview"].shape == (1, 64, 64, 3)
