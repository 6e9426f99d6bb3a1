"""Loader node for the embedded demo model (``SDE Drag/demo``); the model itself is defined in
``demo/model.py``, beside its training script and weights."""

from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..demo.model import COLOURS, SHAPES, load_demo_model
from .base import SDEDragNode
from .inputs import DEMO_CATEGORY
from .presets import DEMO_PRESETS_TEXT


class SDEDragDemoLoader(SDEDragNode, io.ComfyNode):
    """Loads the embedded demo model that ComfyUI-SDE-Drag trains itself (demo/train_demo_model.py) and ships
    in demo/weights: MODEL, CLIP and VAE built from ComfyUI's own classes, small enough to drag on a CPU in
    seconds. It generates and edits 64x64 scenes: a smooth, textured two-colour background with one shaded,
    textured object (disc, square or triangle, radius about 7-13 px) in a saturated colour. Prompt
    vocabulary: colours {colours}; shapes {shapes} (e.g. "red disc"); unknown words are ignored. The latent
    is 16x16x4 (factor 4): an Empty Latent Image of 128x128 gives a 16x16 latent (a 64x64 image), or encode a
    64x64 image with VAE Encode. {presets} For real work swap this loader for Load Checkpoint (SD1.5) and use
    the paper's presets."""
    node_id = "SDEDragDemoLoader"
    display_name = "SDE Drag Demo Model Loader"
    category = DEMO_CATEGORY

    @classmethod
    def description(cls):
        return super().description().format(colours=", ".join(COLOURS), shapes=", ".join(SHAPES),
                                            presets=DEMO_PRESETS_TEXT)

    @classmethod
    def schema_outputs(cls):
        return [
            io.Model.Output(display_name="MODEL", tooltip=(
                "The demo diffusion model: an SD1.5-style epsilon-predicting UNet (1000-step discrete "
                "schedule) on 16x16x4 latents. Works with KSampler and every SDE Drag node.")),
            io.Clip.Output(display_name="CLIP", tooltip=(
                "The demo text encoder for the core CLIP Text Encode node. It knows only the colour and "
                "shape words listed in the description; other words are ignored, an empty prompt is the "
                "unconditional (negative) prompt.")),
            io.Vae.Output(display_name="VAE", tooltip=(
                "The demo autoencoder for VAE Encode / VAE Decode: 64x64 RGB <-> 16x16x4 latents "
                "(downscale factor 4, not SD's 8).")),
        ]

    @classmethod
    def execute(cls):
        return io.NodeOutput(*load_demo_model())
