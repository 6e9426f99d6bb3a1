"""Tiny real models built from ComfyUI's own classes, and test-only nodes that put them
(and other test inputs) into graphs run by ComfyUI's executor.

Families: "eps" (SD1.5-like), "v" (SD2-like V_PREDICTION), "flow" (SD3-like CONST,
rectified flow) and "sdxl" (EPS with ADM/`y` conditioning from pooled output + sizes).
"""
from __future__ import annotations

import torch

FAMILIES = ("eps", "v", "flow", "sdxl")
CONTEXT_DIM = 64

_UNET = {
    "in_channels": 4, "out_channels": 4, "model_channels": 32, "num_res_blocks": [1, 1],
    "channel_mult": [1, 2], "transformer_depth": [1, 1], "transformer_depth_middle": 1,
    "transformer_depth_output": [1, 1, 1, 1], "context_dim": CONTEXT_DIM,
    "use_spatial_transformer": True, "use_linear_in_transformer": False, "legacy": False,
    "adm_in_channels": None, "image_size": 32,
}

_CACHE: dict = {}


def init_weights(module: torch.nn.Module, seed: int) -> None:
    # ComfyUI's ops skip initialisation (reset_parameters is a no-op): use torch's own.
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    for m in module.modules():
        for base in type(m).__mro__[1:]:
            if base.__module__.startswith("torch.nn") and hasattr(base, "reset_parameters"):
                base.reset_parameters(m)
                break
    torch.random.set_rng_state(gen_state)


def build(family: str, seed: int = 0):
    """A ModelPatcher around a ~1 M parameter UNet of the given family."""
    import comfy.model_patcher

    key = (family, seed)
    if key in _CACHE:
        return _CACHE[key].clone()
    cpu = torch.device("cpu")
    patcher = comfy.model_patcher.ModelPatcher(base_model(family, seed), load_device=cpu, offload_device=cpu)
    _CACHE[key] = patcher
    return patcher.clone()


def base_model(family: str, seed: int = 0, damped: bool = True):
    """A new BaseModel (not cached) with the tiny UNet of `family`; `damped=False` keeps torch's
    default scale of the output convolution (what a training test wants to start from)."""
    import comfy.model_base
    import comfy.model_management
    import comfy.supported_models

    cpu = torch.device("cpu")
    unet = dict(_UNET)
    if family == "sdxl":
        unet.update(adm_in_channels=2816, num_classes="sequential", use_linear_in_transformer=True)
        cfg = comfy.supported_models.SDXL(unet)
    else:
        cfg = comfy.supported_models.SD15(unet)
    cfg.unet_config["num_heads"] = 2  # SD15 overrides it; 2 heads of 32 channels
    cfg.unet_config["num_head_channels"] = -1
    ModelType = comfy.model_base.ModelType
    if family == "sdxl":
        model = comfy.model_base.SDXL(cfg, model_type=ModelType.EPS, device=cpu)
    elif family == "flow":
        cfg.sampling_settings = {"shift": 3.0, "multiplier": 1000}
        model = comfy.model_base.BaseModel(cfg, model_type=ModelType.FLOW, device=cpu)
    else:
        model_type = ModelType.V_PREDICTION if family == "v" else ModelType.EPS
        model = comfy.model_base.BaseModel(cfg, model_type=model_type, device=cpu)
    init_weights(model.diffusion_model, seed)
    if damped:
        with torch.no_grad():
            # Real UNets zero-initialise their output convolution; torch's default init there gives a
            # random network a large Lipschitz constant that amplifies float32 rounding (x5 at cfg 3).
            model.diffusion_model.out[-1].weight.mul_(0.1)
    model.diffusion_model.eval()
    return model


def conditioning(family: str, seed: int = 0, batch: int = 1):
    """Random (seeded) conditioning of the right shape for a tiny model of `family`."""
    gen = torch.Generator().manual_seed(seed)
    context = torch.randn(batch, 77, CONTEXT_DIM, generator=gen)
    extra = {}
    if family == "sdxl":
        extra = {"pooled_output": torch.randn(batch, 1280, generator=gen), "width": 256, "height": 256}
    return [[context, extra]]


class _OfFamilyAndSeed:
    """A test node whose inputs are a model family and a seed."""

    CATEGORY = "_tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"family": (list(FAMILIES),), "seed": ("INT", {"default": 0})}}


class TestTinyModel(_OfFamilyAndSeed):
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load"

    def load(self, family, seed):
        return (build(family, seed),)


class TestConditioning(_OfFamilyAndSeed):
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "make"

    def make(self, family, seed):
        return (conditioning(family, seed),)


class TestPatternLatent:
    """A seeded random latent with a distinctive bright square (for drag tests)."""

    CATEGORY = "_tests"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "make"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "width": ("INT", {"default": 32}), "height": ("INT", {"default": 32}),
            "batch": ("INT", {"default": 1}), "seed": ("INT", {"default": 0}),
            "patch_x": ("INT", {"default": -1}), "patch_y": ("INT", {"default": -1}),
            "patch_radius": ("INT", {"default": 3}),
        }}

    def make(self, width, height, batch, seed, patch_x, patch_y, patch_radius):
        gen = torch.Generator().manual_seed(seed)
        x = 0.5 * torch.randn(batch, 4, height, width, generator=gen)
        if patch_x >= 0:
            r = patch_radius
            x[:, :, max(patch_y - r, 0):patch_y + r, max(patch_x - r, 0):patch_x + r] = torch.tensor(
                [2.0, -2.0, 1.5, -1.0]).view(1, 4, 1, 1)
        return ({"samples": x},)


CAPTURED: dict = {}


class _AnyType(str):
    """ComfyUI's type check compares with `!=`: this type matches every other."""

    def __ne__(self, other):
        return False


ANY = _AnyType("*")


class TestCapture:
    """Output node: keeps whatever reaches it in CAPTURED[label] for the test to read."""

    CATEGORY = "_tests"
    RETURN_TYPES = ()
    FUNCTION = "capture"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"label": ("STRING", {"default": "out"})}, "optional": {"value": (ANY,)}}

    def capture(self, label, value=None):
        CAPTURED[label] = value
        return {}


# Named TEST_NODES, not NODE_CLASS_MAPPINGS: ComfyUI-Manager's scanner reads every .py file of the
# repository and would list these test nodes as the pack's own.
TEST_NODES = {
    "TestTinyModel": TestTinyModel,
    "TestConditioning": TestConditioning,
    "TestPatternLatent": TestPatternLatent,
    "TestCapture": TestCapture,
}
