"""What cfg and negative mean, through ComfyUI's executor: cfg != 1 without a negative is refused
(never a silent unguided run), and a guidance-distilled model (Flux dev) refuses cfg != 1 (never a
silent second guidance on top of FluxGuidance) and runs at cfg 1 without a negative."""
import pytest
import torch

import graphs
from harness import tiny_models

FLUX_CONTEXT, FLUX_POOLED = 32, 32


def _drop_negative(graph, node):
    graph[node]["inputs"].pop("negative", None)
    return graph


def _drag(cfg):
    g = graphs.sde_drag("eps", steps=3, step_size=8)
    g["drag"]["inputs"]["cfg"] = cfg
    return _drop_negative(g, "drag")


def _denoise(kind):
    def build(cfg):
        g = graphs.one_subdrag("eps", kind, steps=3)
        g["den"]["inputs"]["cfg"] = cfg
        return _drop_negative(g, "den")
    return build


def _fresh(cfg):
    return _drop_negative(graphs.fresh_denoise("eps", steps=3, cfg=cfg), "den")


def _ode_inversion(cfg):
    g = graphs.one_subdrag("eps", "ode", steps=3)
    g["inv"]["inputs"]["cfg"] = cfg
    return g


def _diffedit(cfg):
    g = graphs.diffedit_mask("eps", noises=1)
    g["mask"]["inputs"]["cfg"] = cfg
    return g


NODES = {"SDE Drag": (_drag, "drag"), "SDE Denoise": (_denoise("sde"), "den"), "ODE Denoise": (_denoise("ode"), "den"),
         "Img2Img & Inpaint": (_fresh, "den"), "ODE Inversion": (_ode_inversion, "inv"),
         "DiffEdit Mask": (_diffedit, "mask")}


@pytest.mark.parametrize("name", list(NODES))
def test_cfg_above_1_without_a_negative_is_refused_naming_negative_and_the_fix(host, name):
    build, node = NODES[name]
    result = host.run(build(3.0))
    assert not result.ok
    assert result.execution_error["node_id"] == node, result.execution_error
    message = result.error_message
    assert message.startswith("negative: cfg is 3"), message
    assert "CLIP Text Encode of an empty prompt" in message and "set cfg to 1" in message


@pytest.mark.parametrize("name", list(NODES))
def test_cfg_1_without_a_negative_runs_unguided(host, name):
    build, _ = NODES[name]
    result = host.run(build(1.0))
    assert result.ok, result


# ---- a guidance-distilled model: a tiny Flux dev built from ComfyUI's own classes -----------------

def _newer_flux_params() -> dict:
    """Fields later hosts' FluxParams require with no default (model detection fills them for
    real checkpoints): `txt_ids_dims` from ComfyUI 0.1x on, empty for Flux dev."""
    import dataclasses

    import comfy.ldm.flux.model

    fields = {f.name for f in dataclasses.fields(comfy.ldm.flux.model.FluxParams)}
    return {"txt_ids_dims": []} if "txt_ids_dims" in fields else {}


def build_tiny_flux(guidance_embed=True):
    """comfy.supported_models.Flux with a very small transformer (1 double + 1 single block)."""
    import comfy.model_base
    import comfy.model_patcher
    import comfy.supported_models

    config = comfy.supported_models.Flux({
        "image_model": "flux", "guidance_embed": guidance_embed, "in_channels": 16, "out_channels": 16,
        "vec_in_dim": FLUX_POOLED, "context_in_dim": FLUX_CONTEXT, "hidden_size": 64, "mlp_ratio": 2.0,
        "num_heads": 2, "depth": 1, "depth_single_blocks": 1, "axes_dim": [8, 12, 12], "theta": 10000,
        "patch_size": 2, "qkv_bias": True, **_newer_flux_params()})
    config.set_inference_dtype(torch.float32, None)
    cpu = torch.device("cpu")
    model = comfy.model_base.Flux(config, device=cpu)
    tiny_models.init_weights(model.diffusion_model, 0)
    with torch.no_grad():  # Flux's RMSNorm scales are allocated empty (not torch.nn modules): set them to 1
        for name, param in model.diffusion_model.named_parameters():
            if name.endswith(".scale"):
                param.fill_(1.0)
    assert all(torch.isfinite(p).all() for p in model.diffusion_model.parameters())
    model.diffusion_model.eval()
    return comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)


class TestTinyFlux:
    CATEGORY = "_tests"
    RETURN_TYPES = ("MODEL", "CONDITIONING", "CONDITIONING")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"guidance_embed": ("BOOLEAN", {"default": True})}}

    def load(self, guidance_embed):
        gen = torch.Generator().manual_seed(0)

        def cond():
            return [[torch.randn(1, 8, FLUX_CONTEXT, generator=gen), {"pooled_output": torch.randn(1, FLUX_POOLED,
                                                                                                   generator=gen)}]]
        return build_tiny_flux(guidance_embed), cond(), cond()


@pytest.fixture(scope="module")
def flux_host(host):
    host.register({"TestTinyFlux": TestTinyFlux})
    return host


def _flux_drag(cfg, negative=True, guidance_embed=True):
    g = {"flux": {"class_type": "TestTinyFlux", "inputs": {"guidance_embed": guidance_embed}},
         "guided": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["flux", 1], "guidance": 3.5}},
         "latent": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
         "points": {"class_type": "SDEDragPoints", "inputs": {"points": "16,16 -> 40,40"}},
         "drag": {"class_type": "SDEDragAllInOne", "inputs": {
             "model": ["flux", 0], "positive": ["guided", 0], "latent": ["latent", 0], "drag_points": ["points", 0],
             "method": "sde", "steps": 3, "t0": 0.6, "cfg": cfg, "step_size": 8, "r": 1, "alpha": 1.1, "beta": 0.3,
             "seed": 1}}}
    if negative:
        g["drag"]["inputs"]["negative"] = ["flux", 2]
    return graphs.capture(g, "output", ["drag", 0])


def test_the_tiny_flux_dev_is_recognised_as_guidance_distilled_and_schnell_and_sd_are_not(flux_host):
    host_module = flux_host.module("nodes.guidance")
    assert host_module.is_guidance_distilled(build_tiny_flux(True))
    assert not host_module.is_guidance_distilled(build_tiny_flux(False))
    assert not host_module.is_guidance_distilled(tiny_models.build("eps"))


@pytest.mark.parametrize("negative", [True, False], ids=["with_negative", "without_negative"])
def test_cfg_above_1_on_a_guidance_distilled_model_is_refused_saying_to_use_cfg_1_and_flux_guidance(flux_host,
                                                                                                  negative):
    result = flux_host.run(_flux_drag(3.0, negative=negative))
    assert not result.ok
    message = result.error_message
    assert message.startswith("cfg: this model is guidance-distilled"), message
    assert "set cfg to 1" in message and "FluxGuidance" in message


def test_a_guidance_distilled_model_drags_at_cfg_1_without_a_negative(flux_host, captured):
    result = flux_host.run(_flux_drag(1.0, negative=False))
    assert result.ok, result
    out = captured["output"]["samples"]
    assert out.shape == (1, 16, 8, 8) and torch.isfinite(out).all()


def test_flux_schnell_without_guidance_embedding_takes_cfg_with_a_negative(flux_host, captured):
    result = flux_host.run(_flux_drag(2.0, negative=True, guidance_embed=False))
    assert result.ok, result
