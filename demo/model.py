"""The embedded demo model, built from ComfyUI's own classes.

- MODEL: ``comfy.model_base.BaseModel`` (EPS, SD1.5's discrete schedule) around
  ``comfy.ldm.modules.diffusionmodules.openaimodel.UNetModel``, wrapped in
  ``comfy.model_patcher.ModelPatcher``; its latent format is :class:`DemoLatentFormat`
  (4 channels, the scale factor computed at training time).
- VAE: ``comfy.sd.VAE`` holding a small ``comfy.ldm.models.autoencoder.AutoencoderKL``
  (64x64x3 <-> 16x16x4, downscale factor 4), so the core VAEEncode / VAEDecode work.
- CLIP: a real ``comfy.sd.CLIP`` whose tokenizer and text model are the demo vocabulary's
  (:class:`DemoTokenizer`, :class:`DemoTextModel`), so the core CLIPTextEncode works and
  returns ComfyUI CONDITIONING ``[[context [1, L, 64], {"pooled_output": [1, 64]}]]``.

This module has no pack-internal imports, so the demo scripts import it as ``demo.model``
(run as ``python -m demo.<script>``, ComfyUI set up by ``harness/comfy_host.py``) and the loader
node imports it from the pack
(``nodes/demo_nodes.py``); the architectures defined here are the single source of truth for
training and loading.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading

import torch

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.supported_models_base
import comfy.utils

# ---------------------------------------------------------------- vocabulary and configs

COLOURS = ("red", "green", "blue", "yellow", "magenta", "cyan", "orange", "purple")
SHAPES = ("disc", "square", "triangle")
VOCABULARY = COLOURS + SHAPES
PAD_ID = 0
WORD_IDS = {w: i + 1 for i, w in enumerate(VOCABULARY)}   # 0 is the pad token
ALIASES = {"circle": "disc", "ball": "disc", "dot": "disc", "box": "square", "pink": "magenta",
           "violet": "purple", "turquoise": "cyan", "teal": "cyan"}

DEFAULT_TEXT_CONFIG = {"vocab_size": len(VOCABULARY) + 1, "dim": 64, "length": 8}

DEFAULT_VAE_DDCONFIG = {
    "double_z": True, "z_channels": 4, "resolution": 64, "in_channels": 3, "out_ch": 3,
    "ch": 32, "ch_mult": [1, 1, 1], "num_res_blocks": 0, "attn_resolutions": [], "dropout": 0.0,
}
VAE_DOWNSCALE = 4
LATENT_CHANNELS = 4

DEFAULT_UNET_CONFIG = {
    "in_channels": 4, "out_channels": 4, "model_channels": 32,
    "num_res_blocks": [1, 1], "channel_mult": [1, 2],
    "transformer_depth": [0, 1], "transformer_depth_middle": 1,
    "transformer_depth_output": [0, 0, 1, 1],
    "context_dim": 64, "num_heads": 2, "num_head_channels": -1,
    "use_spatial_transformer": True, "use_linear_in_transformer": True, "legacy": False,
    "adm_in_channels": None, "use_temporal_attention": False, "use_temporal_resblock": False,
    "image_size": 16, "dims": 2,
}


def default_weights_dir() -> str:
    """``<pack root>/demo/weights``, beside this file."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


def init_comfy_module(module: torch.nn.Module, seed: int | None = None) -> torch.nn.Module:
    """ComfyUI's ops skip weight initialisation: run torch's own ``reset_parameters``."""
    if seed is not None:
        torch.manual_seed(seed)
    bases = (torch.nn.Conv2d, torch.nn.Conv1d, torch.nn.Conv3d, torch.nn.Linear, torch.nn.GroupNorm,
             torch.nn.LayerNorm, torch.nn.Embedding)
    for m in module.modules():
        for base in bases:
            if isinstance(m, base):
                base.reset_parameters(m)
                break
    return module


# ---------------------------------------------------------------- text side

def words_of(text: str) -> list[str]:
    """Known words of ``text`` in order (case-insensitive, unknown words dropped)."""
    out = []
    for w in re.findall(r"[a-z]+", text.lower()):
        w = ALIASES.get(w, w)
        if w in WORD_IDS:
            out.append(w)
    return out


def encode_words(words: list[str], length: int = 8) -> list[int]:
    ids = [WORD_IDS[w] for w in words][:length]
    return ids + [PAD_ID] * (length - len(ids))


class DemoTextEncoder(torch.nn.Module):
    """Word embeddings + position embeddings -> context [B, L, dim]; a prompt with no known
    word maps to a learned null context (the classifier-free-guidance "empty" prompt)."""

    def __init__(self, vocab_size: int = DEFAULT_TEXT_CONFIG["vocab_size"], dim: int = 64, length: int = 8,
                 dtype=None, device=None):
        super().__init__()
        self.vocab_size, self.dim, self.length = vocab_size, dim, length
        self.tok = torch.nn.Embedding(vocab_size, dim, dtype=dtype, device=device)
        self.pos = torch.nn.Parameter(torch.randn(length, dim, dtype=dtype, device=device) * 0.1)
        self.norm = torch.nn.LayerNorm(dim, dtype=dtype, device=device)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 2 * dim, dtype=dtype, device=device), torch.nn.GELU(),
                                       torch.nn.Linear(2 * dim, dim, dtype=dtype, device=device))
        self.null = torch.nn.Parameter(torch.randn(length, dim, dtype=dtype, device=device))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.tok(ids) + self.pos[: ids.shape[1]]
        h = self.norm(h)
        h = h + self.mlp(h)
        empty = (ids == PAD_ID).all(dim=1)
        null = self.null[: ids.shape[1]].unsqueeze(0).to(h.dtype)
        return torch.where(empty[:, None, None], null, h)


class DemoTokenizer:
    """ComfyUI tokenizer for the demo vocabulary: ``tokenize_with_weights(text)`` returns
    ``{"demo": [[(id, weight), ...]]}`` (one chunk of ``length`` tokens; with
    ``return_word_ids=True`` the tuples are ``(id, weight, word_index)``). Unknown words are
    ignored, case-insensitive; ComfyUI's ``(word:1.2)`` weight syntax is understood."""

    def __init__(self, embedding_directory=None, tokenizer_data={}, length: int = DEFAULT_TEXT_CONFIG["length"]):
        self.length = length

    def tokenize_with_weights(self, text: str, return_word_ids: bool = False, **kwargs):
        import comfy.sd1_clip as sd1
        pairs = []
        for piece, weight in sd1.token_weights(sd1.escape_important(text or ""), 1.0):
            for w in words_of(sd1.unescape_important(piece)):
                pairs.append((WORD_IDS[w], float(weight)))
        pairs = pairs[: self.length]
        out = []
        for i in range(self.length):
            tok, wt = pairs[i] if i < len(pairs) else (PAD_ID, 1.0)
            out.append((tok, wt, i + 1 if i < len(pairs) else 0) if return_word_ids else (tok, wt))
        return {"demo": [out]}

    def untokenize(self, token_weight_pair):
        inv = {v: k for k, v in WORD_IDS.items()}
        return [(t, inv.get(t[0], "")) for t in token_weight_pair]

    def state_dict(self):
        return {}


class DemoTextModel(DemoTextEncoder):
    """The ``cond_stage_model`` of the demo ``comfy.sd.CLIP``: :class:`DemoTextEncoder` plus
    the methods ``comfy.sd.CLIP`` calls. Token weights scale each token's context away from
    the null context, as SD1's encoder does against the empty prompt."""

    def __init__(self, config: dict | None = None, device=None, dtype=None, model_options={}, **kwargs):
        cfg = dict(DEFAULT_TEXT_CONFIG)
        cfg.update(config or {})
        super().__init__(cfg["vocab_size"], cfg["dim"], cfg["length"], dtype=dtype, device=device)
        self.dtypes = {dtype if dtype is not None else torch.float32}
        self.options = {}

    def reset_clip_options(self):
        self.options = {}

    def set_clip_options(self, options):
        self.options.update(options)

    def encode_token_weights(self, token_weight_pairs):
        if isinstance(token_weight_pairs, dict):
            token_weight_pairs = next(iter(token_weight_pairs.values()))
        dev = self.tok.weight.device
        ids = torch.tensor([[t[0] for t in chunk] for chunk in token_weight_pairs], dtype=torch.long, device=dev)
        weights = torch.tensor([[float(t[1]) for t in chunk] for chunk in token_weight_pairs], device=dev)
        cond = self.forward(ids)
        if (weights != 1.0).any():
            null = self.null[: ids.shape[1]].unsqueeze(0).to(cond.dtype)
            cond = null + (cond - null) * weights[..., None].to(cond.dtype)
        cond = cond.reshape(1, -1, cond.shape[-1])   # chunks concatenated along the tokens, as SD1
        pooled = cond.mean(dim=1)
        out_dev = comfy.model_management.intermediate_device()
        return cond.to(out_dev), pooled.to(out_dev)

    def load_sd(self, sd):
        return self.load_state_dict(sd, strict=False)


# ---------------------------------------------------------------- model side

class DemoLatentFormat(comfy.latent_formats.LatentFormat):
    """4-channel latents of the demo autoencoder (factor 4); ``process_in`` scales them to
    about unit std for the UNet. ``latent_rgb_factors`` give ComfyUI's live previews."""
    latent_channels = LATENT_CHANNELS
    latent_dimensions = 2
    spacial_downscale_ratio = 4  # 64x64 images <-> 16x16 latents (newer ComfyUI's name for it)

    def __init__(self, scale_factor: float = 1.0, latent_rgb_factors=None, latent_rgb_factors_bias=None):
        self.scale_factor = float(scale_factor)
        self.latent_rgb_factors = latent_rgb_factors
        self.latent_rgb_factors_bias = latent_rgb_factors_bias


class DemoModelConfig(comfy.supported_models_base.BASE):
    """supported_models-style config of the demo UNet (EPS, SD1.5 discrete schedule:
    scaled-linear betas 0.00085..0.012, 1000 steps; ModelSamplingDiscrete's defaults)."""
    unet_config = dict(DEFAULT_UNET_CONFIG)
    unet_extra_config = {}
    latent_format = DemoLatentFormat
    sampling_settings = {"beta_schedule": "linear", "linear_start": 0.00085, "linear_end": 0.012, "timesteps": 1000}
    memory_usage_factor = 1.0
    supported_inference_dtypes = [torch.float32]

    def clip_target(self, state_dict={}):
        t = comfy.supported_models_base.ClipTarget(DemoTokenizer, DemoTextModel)
        return t


def build_base_model(unet_config: dict | None = None, scale_factor: float = 1.0, latent_rgb_factors=None,
                     latent_rgb_factors_bias=None, device=None) -> comfy.model_base.BaseModel:
    """An (uninitialised) demo ``BaseModel`` (EPS) on ``device`` (default CPU)."""
    cfg = DemoModelConfig(dict(unet_config or DEFAULT_UNET_CONFIG))
    cfg.latent_format = DemoLatentFormat(scale_factor, latent_rgb_factors, latent_rgb_factors_bias)
    cfg.set_inference_dtype(torch.float32, None)
    return comfy.model_base.BaseModel(cfg, model_type=comfy.model_base.ModelType.EPS,
                                      device=device if device is not None else torch.device("cpu"))


def build_autoencoder(ddconfig: dict | None = None):
    """An (uninitialised) ``AutoencoderKL`` of the demo VAE."""
    from comfy.ldm.models.autoencoder import AutoencoderKL
    dd = dict(ddconfig or DEFAULT_VAE_DDCONFIG)
    return AutoencoderKL(ddconfig=dd, embed_dim=dd["z_channels"])


def make_vae(sd: dict, ddconfig: dict | None = None) -> comfy.sd.VAE:
    """``comfy.sd.VAE`` around the demo autoencoder (its ``config=`` path builds an
    ``AutoencoderKL``; the downscale factor is set to the demo's 4)."""
    dd = dict(ddconfig or DEFAULT_VAE_DDCONFIG)
    vae = comfy.sd.VAE(sd=sd, config={"params": {"ddconfig": dd, "embed_dim": dd["z_channels"]}})
    factor = 2 ** (len(dd["ch_mult"]) - 1)
    vae.downscale_ratio = factor
    vae.upscale_ratio = factor
    vae.latent_channels = dd["z_channels"]
    return vae


def make_clip(sd: dict | None, text_config: dict | None = None) -> comfy.sd.CLIP:
    """A real ``comfy.sd.CLIP`` holding :class:`DemoTokenizer` and :class:`DemoTextModel`."""
    cfg = dict(DEFAULT_TEXT_CONFIG)
    cfg.update(text_config or {})
    target = comfy.supported_models_base.ClipTarget(
        lambda embedding_directory=None, tokenizer_data={}: DemoTokenizer(embedding_directory, tokenizer_data, cfg["length"]),
        DemoTextModel)
    target.params = {"config": cfg}
    n_params = cfg["vocab_size"] * cfg["dim"] + 2 * cfg["length"] * cfg["dim"] + 4 * cfg["dim"] * cfg["dim"]
    clip = comfy.sd.CLIP(target=target, parameters=n_params, model_options={"dtype": torch.float32})
    if sd is not None:
        m, u = clip.load_sd(sd)
        if len(m) > 0:
            raise RuntimeError(f"demo text encoder: missing keys {m}")
    return clip


# ---------------------------------------------------------------- loading

_CACHE: dict = {}
_LOCK = threading.Lock()


def read_settings(weights_dir: str) -> dict:
    path = os.path.join(weights_dir, "settings.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def load_demo_model(weights_dir: str | None = None):
    """Load the embedded demo model: returns ``(model_patcher, clip, vae)``, ComfyUI's own
    MODEL (``comfy.model_patcher.ModelPatcher`` of a ``comfy.model_base.BaseModel``, EPS),
    CLIP (``comfy.sd.CLIP``) and VAE (``comfy.sd.VAE``, factor 4, 4 latent channels).

    ``weights_dir`` defaults to ``<pack root>/demo/weights``; it holds
    ``demo_unet.safetensors``, ``demo_vae.safetensors``, ``demo_text.safetensors`` and
    ``settings.json``. Loaded objects are cached per directory; every call returns clones
    of the MODEL and CLIP (patching a clone leaves the cached one alone) and the shared VAE.
    """
    weights_dir = os.path.abspath(weights_dir or default_weights_dir())
    with _LOCK:
        if weights_dir not in _CACHE:
            _CACHE[weights_dir] = _load_uncached(weights_dir)
        patcher, clip, vae = _CACHE[weights_dir]
    return patcher.clone(), clip.clone(), vae


def _load_uncached(weights_dir: str):
    files = {k: os.path.join(weights_dir, f"demo_{k}.safetensors") for k in ("unet", "vae", "text")}
    for k, p in files.items():
        if not os.path.isfile(p):
            raise FileNotFoundError(f"SDE Drag demo model: {p} not found (train it with "
                                    f"`python demo/train_demo_model.py`)")
    settings = read_settings(weights_dir)
    unet_config = settings.get("unet_config", DEFAULT_UNET_CONFIG)
    vae_ddconfig = settings.get("vae_ddconfig", DEFAULT_VAE_DDCONFIG)
    text_config = settings.get("text_config", DEFAULT_TEXT_CONFIG)
    lat = settings.get("latent", {})
    scale_factor = float(lat.get("scale_factor", 1.0))

    model = build_base_model(unet_config, scale_factor, lat.get("rgb_factors"), lat.get("rgb_factors_bias"))
    usd = comfy.utils.load_torch_file(files["unet"], safe_load=True)
    missing, unexpected = model.diffusion_model.load_state_dict(usd, strict=False)
    if missing:
        raise RuntimeError(f"demo UNet: missing keys {missing[:5]}...")
    if unexpected:
        logging.warning("demo UNet: unexpected keys %s", unexpected[:5])
    model.diffusion_model.to(torch.float32)
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                               offload_device=comfy.model_management.unet_offload_device())

    vae = make_vae(comfy.utils.load_torch_file(files["vae"], safe_load=True), vae_ddconfig)
    clip = make_clip(comfy.utils.load_torch_file(files["text"], safe_load=True), text_config)
    logging.info("SDE Drag demo model loaded from %s (latent scale %.4f)", weights_dir, scale_factor)
    return patcher, clip, vae
