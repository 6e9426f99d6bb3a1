"""User-shaped full-size model files with random weights, built from ComfyUI's own classes.

Each family's files carry the names the usual distributions give them and the keys ComfyUI's
own savers write, so ComfyUI's loaders (Load Checkpoint, Load Diffusion Model, DualCLIPLoader,
Load VAE) detect them exactly as they detect the real files:

- sd15:  checkpoints/v1-5-pruned-emaonly-fp16.safetensors (SD15, EPS; UNet 859.5 M, CLIP-L, VAE; the name
         ComfyUI's own SD1.5 template installs)
- sd21v: checkpoints/v2-1_768-ema-pruned.safetensors (SD20, V_PREDICTION, detected from the
         weights as for the real file; OpenCLIP-H)
- sdxl:  checkpoints/sd_xl_base_1.0.safetensors (SDXL, EPS + ADM; UNet 2.57 B, CLIP-L + G)
- flux:  diffusion_models/flux1-dev.safetensors (Flux, FLOW, guidance-distilled; full width
         3072, FLUX_DOUBLE_BLOCKS double and FLUX_SINGLE_BLOCKS single blocks instead of 19 and
         38), text_encoders/clip_l.safetensors, text_encoders/t5xxl_fp8_e4m3fn.safetensors (all
         24 T5-XXL layers: ComfyUI builds T5-XXL from a fixed 24-layer config and leaves missing
         layers uninitialised, so fewer layers are not possible; fp8 as users load it, kept in
         fp8 by ComfyUI on the CPU), vae/ae.safetensors (16-channel VAE).

Two more, for the shipped Flux templates only (TEMPLATE_FAMILIES, not in the families suite):
- flux_t5_fp16: the flux files with text_encoders/t5xxl_fp16.safetensors (T5-XXL in fp16, as
  ComfyUI's own Flux dev template loads it; about 9 GiB more memory than fp8 on the CPU).
- flux_fp8: checkpoints/flux1-dev-fp8.safetensors, ComfyUI's single-file fp8 checkpoint for
  smaller cards: the diffusion model and T5-XXL in fp8, clip_l and the VAE in fp16, keys as
  ComfyUI's checkpoint loader reads a Flux checkpoint (model.diffusion_model., text_encoders.
  clip_l/t5xxl.transformer., vae.).

How: the family's unet_config -> comfy.model_detection.model_config_from_unet_config -> the
supported_models class -> get_model() built on the meta device (no memory), text encoders from
the class's clip_target (or ComfyUI's text-encoder classes), the VAE from comfy.ldm's
autoencoder classes; keys as BaseModel.state_dict_for_saving writes them; then each tensor is
drawn at random (seeded per key, fan-in scaled) straight into fp16 (fp8 for T5) and the file
is written with comfy.utils.save_torch_file. Peak memory is about the file's size.

Files are cached under $SDE_DRAG_MODEL_CACHE (default <repo>/.host/fullsize), built once
(atomically: tmp file + rename, under a lock file), and linked into ComfyUI's base directory.

    .venv/bin/python -m harness.fullsize_models sd15 sdxl   # build (if missing) and link
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLUX_DOUBLE_BLOCKS = 1
FLUX_SINGLE_BLOCKS = 1

# unet configs as comfy/model_detection.py detects them from the real files
_SD_UNET = {"use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
            "legacy": False, "adm_in_channels": None, "in_channels": 4, "model_channels": 320,
            "num_res_blocks": [2, 2, 2, 2], "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
            "channel_mult": [1, 2, 4, 4], "transformer_depth_middle": 1,
            "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
            "use_temporal_attention": False, "use_temporal_resblock": False}
SD15_UNET = dict(_SD_UNET, use_linear_in_transformer=False, context_dim=768, num_heads=8)
SD21_UNET = dict(_SD_UNET, use_linear_in_transformer=True, context_dim=1024, num_head_channels=64)
SDXL_UNET = {"use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
             "legacy": False, "num_classes": "sequential", "adm_in_channels": 2816, "in_channels": 4,
             "model_channels": 320, "num_res_blocks": [2, 2, 2], "transformer_depth": [0, 0, 2, 2, 10, 10],
             "channel_mult": [1, 2, 4], "transformer_depth_middle": 10, "use_linear_in_transformer": True,
             "context_dim": 2048, "num_head_channels": 64, "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10],
             "use_temporal_attention": False, "use_temporal_resblock": False}
FLUX_UNET = {"image_model": "flux", "axes_dim": [16, 56, 56], "num_heads": 24, "mlp_ratio": 4.0, "theta": 10000,
             "out_channels": 16, "qkv_bias": True, "in_channels": 16, "hidden_size": 3072, "context_in_dim": 4096,
             "patch_size": 2, "vec_in_dim": 768, "depth": FLUX_DOUBLE_BLOCKS,
             "depth_single_blocks": FLUX_SINGLE_BLOCKS, "guidance_embed": True}
SD_VAE = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
          "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}

# family -> what it is and the files it is made of (folder under ComfyUI's models/, file name)
FAMILIES = {
    "sd15": {"config": "SD15", "model_type": "EPS", "unet": SD15_UNET,
             "files": {"checkpoint": ("checkpoints", "v1-5-pruned-emaonly-fp16.safetensors")}},
    "sd21v": {"config": "SD20", "model_type": "V_PREDICTION", "unet": SD21_UNET,
              "files": {"checkpoint": ("checkpoints", "v2-1_768-ema-pruned.safetensors")}},
    "sdxl": {"config": "SDXL", "model_type": "EPS", "unet": SDXL_UNET,
             "files": {"checkpoint": ("checkpoints", "sd_xl_base_1.0.safetensors")}},
    "flux": {"config": "Flux", "model_type": "FLUX", "unet": FLUX_UNET,
             "files": {"unet": ("diffusion_models", "flux1-dev.safetensors"),
                       "clip_l": ("text_encoders", "clip_l.safetensors"),
                       "t5xxl": ("text_encoders", "t5xxl_fp8_e4m3fn.safetensors"),
                       "vae": ("vae", "ae.safetensors")}},
}

TEMPLATE_FAMILIES = {
    "flux_t5_fp16": {**FAMILIES["flux"], "files": {**FAMILIES["flux"]["files"],
                                                   "t5xxl": ("text_encoders", "t5xxl_fp16.safetensors")}},
    "flux_fp8": {"config": "Flux", "model_type": "FLUX", "unet": FLUX_UNET,
                 "files": {"checkpoint": ("checkpoints", "flux1-dev-fp8.safetensors")}},
}
ALL_FAMILIES = {**FAMILIES, **TEMPLATE_FAMILIES}


def cache_dir() -> Path:
    return Path(os.environ.get("SDE_DRAG_MODEL_CACHE") or REPO / ".host" / "fullsize")


def log(message: str):
    print(f"[fullsize {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _comfy():
    """ComfyUI's modules importable (CPU) without booting the server."""
    from harness.comfy_host import setup_comfy

    setup_comfy()


# ---------------------------------------------------------------- random state dicts

def _random_tensor(key: str, shape, dtype, salt: str, special: dict):
    """A seeded random tensor for `key`: weights N(0, 1/fan_in), norm scales 1, biases 0."""
    import torch

    seed = int.from_bytes(hashlib.sha256(f"{salt}/{key}".encode()).digest()[:8], "little") & (2**63 - 1)
    gen = torch.Generator().manual_seed(seed)
    if key in special:
        std = special[key]
        return (std * torch.randn(shape, generator=gen)).to(dtype)
    if len(shape) == 0 or shape.numel() == 0:
        return torch.zeros(shape, dtype=dtype)
    name = key.rsplit(".", 1)[-1]
    if len(shape) == 1:
        if name in ("weight", "scale"):  # norm layers
            return torch.ones(shape, dtype=dtype)
        return torch.zeros(shape, dtype=dtype)  # biases
    fan_in = 1
    for s in shape[1:]:
        fan_in *= s
    if "embedding" in key or key.endswith("shared.weight") or "relative_attention_bias" in key:
        fan_in = shape[-1]
    out = torch.randn(shape, generator=gen)
    out.mul_(fan_in ** -0.5)
    return out.to(dtype)


def _materialise(meta_sd: dict, dtype, salt: str, special: dict | None = None, scale: dict | None = None) -> dict:
    import torch

    special = special or {}
    out = {}
    for key, t in meta_sd.items():
        if not torch.is_tensor(t):
            continue
        if t.numel() == 0 and t.dim() == 1:  # markers such as v_pred
            out[key] = torch.tensor([])
            continue
        value = _random_tensor(key, t.shape, dtype if t.is_floating_point() else t.dtype, salt, special)
        if scale and key in scale:
            value = (value.float() * scale[key]).to(value.dtype)
        out[key] = value
    return out


def _meta(build):
    import torch

    with torch.device("meta"):
        return build()


# ---------------------------------------------------------------- the families

def _model_config(family: str):
    import comfy.model_detection

    cfg = comfy.model_detection.model_config_from_unet_config(dict(ALL_FAMILIES[family]["unet"]))
    assert type(cfg).__name__ == ALL_FAMILIES[family]["config"], (family, type(cfg).__name__)
    return cfg


def _sd_vae_meta(z_channels=4, quant_conv=True):
    from comfy.ldm.models.autoencoder import AutoencoderKL, AutoencodingEngine

    dd = dict(SD_VAE, z_channels=z_channels)
    if quant_conv:
        return _meta(lambda: AutoencoderKL(ddconfig=dd, embed_dim=z_channels)).state_dict()
    return _meta(lambda: AutoencodingEngine(
        regularizer_config={"target": "comfy.ldm.models.autoencoder.DiagonalGaussianRegularizer"},
        encoder_config={"target": "comfy.ldm.modules.diffusionmodules.model.Encoder", "params": dd},
        decoder_config={"target": "comfy.ldm.modules.diffusionmodules.model.Decoder", "params": dd})).state_dict()


def _out_scale(keys) -> dict:
    # Real models start from a zero output layer; torch-like init there gives a random network a
    # large gain that amplifies float32 rounding. Damp it as harness/tiny_models.py does.
    return {k: 0.1 for k in keys}


def checkpoint_state_dict(family: str) -> dict:
    """The single-file checkpoint of an SD-style family, random fp16, as Save Checkpoint writes it."""
    import torch

    cfg = _model_config(family)
    model = _meta(lambda: cfg.get_model({}, device=torch.device("meta")))
    target = cfg.clip_target({})
    clip = _meta(lambda: target.clip(device="meta", dtype=torch.float16))
    meta_sd = model.state_dict_for_saving(clip.state_dict(), _sd_vae_meta())
    meta_sd.pop("v_pred", None)  # the real v2-1_768 file has no marker: ComfyUI detects v from the weights
    special = {}
    if FAMILIES[family]["model_type"] == "V_PREDICTION":
        # comfy.supported_models.SD20.model_type: V_PREDICTION when this bias has std > 0.09 (as trained)
        special["model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias"] = 0.2
    del model, clip
    return _materialise(meta_sd, torch.float16, family, special, _out_scale(["model.diffusion_model.out.2.weight"]))


def flux_state_dicts() -> dict:
    """{file role: state dict} for the Flux files (diffusion model, clip_l, t5xxl fp8, ae)."""
    import torch
    import comfy.sd1_clip
    import comfy.text_encoders.sd3_clip

    cfg = _model_config("flux")
    out = {}
    model = _meta(lambda: cfg.get_model({}, device=torch.device("meta")))
    out["unet"] = _materialise(model.diffusion_model.state_dict(), torch.float16, "flux-unet", None,
                               _out_scale(["final_layer.linear.weight"]))
    del model
    clip_l = _meta(lambda: comfy.sd1_clip.SDClipModel(device="meta", dtype=torch.float16))
    out["clip_l"] = _materialise(clip_l.transformer.state_dict(), torch.float16, "flux-clip_l")
    del clip_l
    out["vae"] = _materialise(_sd_vae_meta(z_channels=16, quant_conv=False), torch.float16, "flux-ae")
    return out


def t5xxl_state_dict(dtype_name: str = "fp8") -> dict:
    """All 24 T5-XXL layers, random, in fp8 (e4m3fn) or fp16. The same seeds either way."""
    import torch
    import comfy.text_encoders.sd3_clip

    t5 = _meta(lambda: comfy.text_encoders.sd3_clip.T5XXLModel(device="meta", dtype=torch.float16))
    dtype = torch.float8_e4m3fn if dtype_name == "fp8" else torch.float16
    return _materialise(t5.transformer.state_dict(), dtype, "t5xxl")


def flux_fp8_checkpoint_state_dict() -> dict:
    """ComfyUI's single-file Flux dev fp8 checkpoint: diffusion model and T5-XXL in fp8, clip_l and
    the VAE in fp16, under the prefixes Load Checkpoint reads for Flux."""
    import torch

    sds = flux_state_dicts()
    out = {"model.diffusion_model." + k: v.to(torch.float8_e4m3fn) if v.dim() > 1 else v
           for k, v in sds.pop("unet").items()}
    out.update({"text_encoders.clip_l.transformer." + k: v for k, v in sds.pop("clip_l").items()})
    out.update({"vae." + k: v for k, v in sds.pop("vae").items()})
    out.update({"text_encoders.t5xxl.transformer." + k: v for k, v in t5xxl_state_dict("fp8").items()})
    return out


# ---------------------------------------------------------------- cache, files, links

def cached_files(family: str) -> dict:
    """{role: cached path} of the family's files (whether built or not)."""
    return {role: cache_dir() / name for role, (_, name) in ALL_FAMILIES[family]["files"].items()}


def _save(sd: dict, path: Path):
    import comfy.utils

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    comfy.utils.save_torch_file(sd, str(tmp), metadata={"sde_drag": "random weights for tests"})
    os.replace(tmp, path)  # atomic: a reader never sees half a file


def ensure(family: str, base_dir: Path | None = None) -> dict:
    """Build the family's files if missing (once, under a lock), link them into ComfyUI's base
    directory (models/<folder>/<name>), and return {role: cached path}."""
    _comfy()
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    files = cached_files(family)
    with open(cache / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = [r for r, p in files.items() if not p.exists()]
        if missing:
            started = time.time()
            log(f"building {family}: {', '.join(files[r].name for r in missing)} into {cache}")
            if family == "flux_fp8":
                _save(flux_fp8_checkpoint_state_dict(), files["checkpoint"])
            elif family.startswith("flux"):
                if "t5xxl" in missing:
                    _save(t5xxl_state_dict("fp16" if "fp16" in files["t5xxl"].name else "fp8"), files["t5xxl"])
                rest = [r for r in missing if r != "t5xxl"]
                if rest:
                    sds = flux_state_dicts()
                    for role in rest:
                        _save(sds[role], files[role])
                    del sds
            else:
                _save(checkpoint_state_dict(family), files["checkpoint"])
            log(f"built {family} in {time.time() - started:.0f} s")
    if base_dir is None:
        from harness.comfy_host import read_env

        base_dir = Path(read_env().get("COMFYUI_BASE", REPO / ".host" / "base"))
    for role, (folder, name) in ALL_FAMILIES[family]["files"].items():
        link = base_dir / "models" / folder / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() and Path(os.readlink(link)) != files[role]:
            link.unlink()
        if not link.exists() and not link.is_symlink():
            link.symlink_to(files[role])
    return files


if __name__ == "__main__":
    for name in sys.argv[1:] or list(FAMILIES):
        for role, p in ensure(name).items():
            print(f"{name} {role}: {p} ({p.stat().st_size / 2**30:.2f} GiB)")
