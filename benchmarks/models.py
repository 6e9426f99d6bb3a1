"""The models the benchmark runs on, built from ComfyUI's own classes with random weights
(the cost of a call does not depend on the weight values; nothing is downloaded).

- `sd15-unet`: ComfyUI's SD1.5 UNet (`comfy.supported_models.SD15` with the SD1.5 unet config
  of `comfy.model_detection`, `comfy.model_base.BaseModel`, EPS), 859.5 M parameters.
- `sdxl-unet`: ComfyUI's SDXL UNet (`comfy.supported_models.SDXL` with the SDXL base unet config
  of `comfy.model_detection`, as harness/fullsize_models.py builds it; `comfy.model_base.SDXL`, EPS
  with ADM conditioning: pooled text and size embeddings), 2567.5 M parameters, about 10 GB in fp32.
- `tiny`: the test suite's 1.1 M-parameter UNet of the same architecture family
  (`harness/tiny_models.py`'s config), for quick runs and the 1024x1024 memory figure.
"""
from __future__ import annotations

import torch

# comfy/model_detection.py (unet_config_from_diffusers_unet, "SD15"), float32
SD15_UNET = {
    "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True, "legacy": False,
    "adm_in_channels": None, "in_channels": 4, "model_channels": 320, "num_res_blocks": [2, 2, 2, 2],
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "channel_mult": [1, 2, 4, 4], "transformer_depth_middle": 1,
    "use_linear_in_transformer": False, "context_dim": 768, "num_heads": 8,
    "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
    "use_temporal_attention": False, "use_temporal_resblock": False,
}
TINY_UNET = {
    "in_channels": 4, "out_channels": 4, "model_channels": 32, "num_res_blocks": [1, 1],
    "channel_mult": [1, 2], "transformer_depth": [1, 1], "transformer_depth_middle": 1,
    "transformer_depth_output": [1, 1, 1, 1], "context_dim": 64, "use_spatial_transformer": True,
    "use_linear_in_transformer": False, "legacy": False, "adm_in_channels": None, "image_size": 32,
}
# The tiny model without its attention layers: at 1024x1024 (a 128x128 latent) the tiny model's
# top-level attention over 16384 tokens costs ~20 s a call on a CPU core, too slow for 120 steps;
# for memory the UNet does not matter, only what the drag holds next to it.
TINY_CONV_UNET = dict(TINY_UNET, transformer_depth=[0, 0], transformer_depth_output=[0, 0, 0, 0],
                      transformer_depth_middle=-1)



def _sdxl_unet() -> dict:
    from harness.fullsize_models import SDXL_UNET

    return SDXL_UNET


MODELS = {"sd15-unet": (SD15_UNET, 768, None), "sdxl-unet": (None, 2048, None), "tiny": (TINY_UNET, 64, 2),
          "tiny-conv": (TINY_CONV_UNET, 64, 2)}


def build(name: str, seed: int = 0):
    """(ModelPatcher, info) for `name` in MODELS; info = {name, parameters, unet_config, ...}."""
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models

    unet, context_dim, heads = MODELS[name]
    sdxl = name == "sdxl-unet"
    cfg = comfy.supported_models.SDXL(dict(_sdxl_unet())) if sdxl else comfy.supported_models.SD15(dict(unet))
    if heads is not None:  # SD15 overrides num_heads; the tiny model has 2 heads of 32 channels
        cfg.unet_config["num_heads"] = heads
        cfg.unet_config["num_head_channels"] = -1
    cpu = torch.device("cpu")
    model_class = comfy.model_base.SDXL if sdxl else comfy.model_base.BaseModel
    model = model_class(cfg, model_type=comfy.model_base.ModelType.EPS, device=cpu)
    from harness.tiny_models import init_weights

    init_weights(model.diffusion_model, seed)
    with torch.no_grad():  # real UNets zero-initialise the output conv; keep outputs tame
        model.diffusion_model.out[-1].weight.mul_(0.1)
    model.diffusion_model.eval()
    parameters = sum(p.numel() for p in model.diffusion_model.parameters())
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                               offload_device=cpu)
    info = {"name": name, "parameters": parameters, "parameters_m": round(parameters / 1e6, 1),
            "architecture": ("ComfyUI SDXL UNetModel (comfy.supported_models.SDXL + comfy.model_base.SDXL, EPS + "
                             "ADM), random weights" if sdxl else "ComfyUI SD15 UNetModel (comfy.supported_models.SD15 "
                             "+ comfy.model_base.BaseModel, EPS), random weights"), "context_dim": context_dim,
            "unet_config": {k: v for k, v in cfg.unet_config.items() if k != "dtype"}}
    return patcher, info


def conditioning(name: str, seed: int):
    """A random CONDITIONING of the model's context size (77 tokens); SDXL's also carries the
    pooled text (1280) and the size that its ADM embedding reads, as CLIPTextEncode gives it."""
    context_dim = MODELS[name][1]
    gen = torch.Generator().manual_seed(seed)
    extra = {}
    if name == "sdxl-unet":
        extra = {"pooled_output": torch.randn(1, 1280, generator=gen), "width": 1024, "height": 1024}
    return [[torch.randn(1, 77, context_dim, generator=gen), extra]]


def latent(size_px: int, batch: int = 1, seed: int = 0) -> dict:
    """A LATENT for a size_px x size_px image (latent cells = size_px / 8)."""
    gen = torch.Generator().manual_seed(seed)
    cells = size_px // 8
    return {"samples": 0.5 * torch.randn(batch, 4, cells, cells, generator=gen)}
