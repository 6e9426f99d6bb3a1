"""Identity LoRA nodes: train a small LoRA on the image to keep its identity, save it."""
from __future__ import annotations

import logging
import os

import comfy.model_management
import comfy.utils
import folder_paths

from . import inputs
from .common import CATEGORY
from .host import latent_samples
from .lora_train import find_identity_lora, fixed_pairs, save_lora, schedule_sigmas, train_identity_lora, \
    with_identity_lora, work_units

LOSS_PAIRS = 8  # fixed (timestep, noise) pairs on which the node logs the loss before and after


class SDEDragIdentityLoRA:
    DESCRIPTION = ("Fine-tunes a small LoRA (peft, on the attention projections to_q/to_k/to_v/to_out.0) on the "
                   "image with the model's own denoising loss, as SDE-Drag does before dragging so that the result "
                   "keeps the subject's identity (paper: rank 4, 100 steps, lr 2e-4). Returns a copy of the MODEL "
                   "carrying the LoRA at full strength for every node; the SDE Drag node ramps its scale per step. "
                   "The input MODEL is not changed. Needs a second copy of the diffusion model in memory while training.")
    CATEGORY = CATEGORY
    FUNCTION = "train"
    RETURN_TYPES = ("MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The MODEL with the identity LoRA (applied at forward time; composes with other LoRAs).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": inputs.MODEL,
                "positive": ("CONDITIONING", {"tooltip": "Prompt describing the image (its first entry is used)."}),
                "rank": ("INT", {"default": 4, "min": 1, "max": 128, "tooltip": "LoRA rank (paper: 4)."}),
                "steps": ("INT", {"default": 100, "min": 1, "max": 10000,
                                  "tooltip": "Training steps, one random timestep and noise each (paper: 100)."}),
                "learning_rate": ("FLOAT", {"default": 2e-4, "min": 1e-7, "max": 1.0, "step": 1e-5, "round": False,
                                            "tooltip": "AdamW learning rate (paper: 2e-4)."}),
                "seed": ("INT", {**inputs.SEED[1], "tooltip": "Seed of the LoRA initialisation and of the "
                                 "training timesteps and noise: the same seed gives the same LoRA."}),
            },
            "optional": {
                "latent": ("LATENT", {"tooltip": "The image's latent (e.g. from VAE Encode). Or connect image + vae."}),
                "image": ("IMAGE", {"tooltip": "The image, encoded with vae when no latent is connected."}),
                "vae": ("VAE", {"tooltip": "VAE to encode the image with (only with image)."}),
            },
        }

    def train(self, model, positive, rank, steps, learning_rate, seed, latent=None, image=None, vae=None):
        if latent is not None:
            samples = latent_samples(latent)
        elif image is not None and vae is not None:
            samples = latent_samples({"samples": vae.encode(image[:, :, :, :3])})
        else:
            raise ValueError("latent: connect the image's LATENT, or an IMAGE together with its VAE")
        if find_identity_lora(model) is not None:
            raise ValueError("model: this MODEL already carries an identity LoRA; train on the model without it")
        pairs = fixed_pairs(samples, schedule_sigmas(model.model), LOSS_PAIRS, seed + 1)
        total = work_units(steps, pairs)  # the loss checks before and after are on the bar too
        bar = comfy.utils.ProgressBar(total)
        done = [0]

        def on_work():
            done[0] += 1
            bar.update_absolute(done[0], total)
            comfy.model_management.throw_exception_if_processing_interrupted()

        def on_step(i):
            comfy.model_management.throw_exception_if_processing_interrupted()

        lora, info = train_identity_lora(model, samples, positive, rank=rank, steps=steps, learning_rate=learning_rate,
                                         seed=seed, on_step=on_step, loss_pairs=pairs, on_work=on_work)
        logging.info("SDE Drag identity LoRA: %d layers, rank %d, %d steps; denoising loss on %d fixed pairs "
                     "%.5f -> %.5f", len(lora.weights), rank, steps, LOSS_PAIRS, info["loss_before"],
                     info["loss_after"])
        return (with_identity_lora(model, lora),)


class SDEDragSaveLoRA:
    DESCRIPTION = ("Saves the identity LoRA carried by a MODEL (from the Identity LoRA node) as a .safetensors file "
                   "in ComfyUI's loras folder, in the key format the core Load LoRA node reads. Never overwrites: "
                   "an existing name gets a _00001 counter.")
    CATEGORY = CATEGORY
    FUNCTION = "save"
    OUTPUT_NODE = True
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("lora_name",)
    OUTPUT_TOOLTIPS = ("The saved file's name inside the loras folder (what Load LoRA lists after a refresh).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": ("MODEL", {"tooltip": "A MODEL from the Identity LoRA node."}),
            "filename": ("STRING", {"default": "sde_drag_identity_lora",
                                    "tooltip": "File name (no folders: anything but letters, digits, '.', '_', '-' "
                                               "and spaces becomes '_'). .safetensors is added."}),
        }}

    def save(self, model, filename):
        lora = find_identity_lora(model)
        if lora is None:
            raise ValueError("model: carries no identity LoRA; connect the output of the Identity LoRA (peft) node")
        path = save_lora(lora, folder_paths.get_folder_paths("loras")[0], filename)
        name = os.path.basename(path)
        return {"ui": {"text": [name]}, "result": (name,)}


NODE_CLASS_MAPPINGS = {"SDEDragIdentityLoRA": SDEDragIdentityLoRA, "SDEDragSaveLoRA": SDEDragSaveLoRA}
NODE_DISPLAY_NAME_MAPPINGS = {"SDEDragIdentityLoRA": "Identity LoRA (peft)", "SDEDragSaveLoRA": "Save Identity LoRA"}
