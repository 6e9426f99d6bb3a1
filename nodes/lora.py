"""Identity LoRA nodes: train a small LoRA on the image to keep its identity, save it."""
from __future__ import annotations

import logging
import os

import comfy.model_management
import comfy.utils
import folder_paths

from comfy_api.v0_0_2 import io

from . import inputs
from .base import SDEDragNode
from .model_space import latent_samples
from .lora_train import find_identity_lora, fixed_pairs, save_lora, schedule_sigmas, train_identity_lora, \
    with_identity_lora, work_units

LOSS_PAIRS = 8  # fixed (timestep, noise) pairs on which the node logs the loss before and after


class SDEDragIdentityLoRA(SDEDragNode, io.ComfyNode):
    """Fine-tunes a small LoRA (peft, on the attention projections: to_q/to_k/to_v/to_out.0 on UNets,
    qkv/proj/linear1/linear2 on DiTs such as Flux) on the image with the model's own denoising loss, as
    SDE-Drag does before dragging so that the result keeps the subject's identity (paper: rank 4, 100 steps,
    lr 2e-4). Returns a copy of the MODEL carrying the LoRA at full strength for every node; the SDE Drag node
    ramps its scale per step. The input MODEL is not changed. Trains on the loaded model itself with its weights
    frozen (no second copy), so it needs only the adapters, their optimizer state and the activations."""
    node_id = "SDEDragIdentityLoRA"
    display_name = "Identity LoRA (peft)"

    @classmethod
    def schema_inputs(cls):
        return [
            inputs.model(),
            inputs.positive(tooltip="Prompt describing the image (its first entry is used)."),
            io.Int.Input("rank", default=4, min=1, max=128, tooltip="LoRA rank (paper: 4)."),
            io.Int.Input("steps", default=100, min=1, max=10000,
                         tooltip="Training steps, one random timestep and noise each (paper: 100)."),
            io.Float.Input("learning_rate", default=2e-4, min=1e-7, max=1.0, step=1e-5, round=False,
                           tooltip="AdamW learning rate (paper: 2e-4)."),
            inputs.seed("Seed of the LoRA initialisation and of the training timesteps and noise: the same seed "
                        "gives the same LoRA."),
            io.Latent.Input("latent", optional=True,
                            tooltip="The image's latent (e.g. from VAE Encode). Or connect image + vae."),
            io.Image.Input("image", optional=True, tooltip="The image, encoded with vae when no latent is "
                                                           "connected."),
            io.Vae.Input("vae", optional=True, tooltip="VAE to encode the image with (only with image)."),
        ]

    @classmethod
    def schema_outputs(cls):
        return [io.Model.Output(display_name="model", tooltip="The MODEL with the identity LoRA (applied at "
                                                              "forward time; composes with other LoRAs).")]

    @classmethod
    def validate_inputs(cls, learning_rate=None):
        return inputs.check_widgets(cls, learning_rate=learning_rate)

    @classmethod
    def execute(cls, model, positive, rank, steps, learning_rate, seed, latent=None, image=None, vae=None):
        samples = training_samples(latent, image, vae)
        if find_identity_lora(model) is not None:
            raise ValueError("model: this MODEL already carries an identity LoRA; train on the model without it")
        pairs = fixed_pairs(samples, schedule_sigmas(model.model), LOSS_PAIRS, seed + 1)
        progress = WorkProgress(work_units(steps, pairs))  # the loss checks before and after are on the bar too
        lora, info = train_identity_lora(model, samples, positive, rank=rank, steps=steps, learning_rate=learning_rate,
                                         seed=seed, on_step=progress.check_cancel, loss_pairs=pairs,
                                         on_work=progress.advance)
        logging.info("SDE Drag identity LoRA: %d layers, rank %d, %d steps; denoising loss on %d fixed pairs "
                     "%.5f -> %.5f", len(lora.weights), rank, steps, LOSS_PAIRS, info["loss_before"],
                     info["loss_after"])
        return io.NodeOutput(with_identity_lora(model, lora))


def training_samples(latent=None, image=None, vae=None):
    """What the LoRA trains on: the connected latent, else the image encoded with its VAE."""
    if latent is not None:
        return latent_samples(latent)
    if image is not None and vae is not None:
        return latent_samples({"samples": vae.encode(image[:, :, :, :3])})
    raise ValueError("latent: connect the image's LATENT, or an IMAGE together with its VAE")


class WorkProgress:
    """ComfyUI's progress bar over `total` units of training work; Cancel is checked at every
    unit and every step, so training stops within one forward/backward pass."""

    def __init__(self, total: int):
        self.total, self.done = total, 0
        self.bar = comfy.utils.ProgressBar(total)

    def advance(self):
        self.done += 1
        self.bar.update_absolute(self.done, self.total)
        self.check_cancel()

    @staticmethod
    def check_cancel(_step=None):
        comfy.model_management.throw_exception_if_processing_interrupted()


class SDEDragSaveLoRA(SDEDragNode, io.ComfyNode):
    """Saves the identity LoRA carried by a MODEL (from the Identity LoRA node) as a .safetensors file in
    ComfyUI's loras folder, in the key format the core Load LoRA node reads. Never overwrites: an existing
    name gets a _00001 counter."""
    node_id = "SDEDragSaveLoRA"
    display_name = "Save Identity LoRA"
    is_output_node = True

    @classmethod
    def schema_inputs(cls):
        return [
            io.Model.Input("model", tooltip="A MODEL from the Identity LoRA node."),
            io.String.Input("filename", default="sde_drag_identity_lora",
                            tooltip="File name (no folders: anything but letters, digits, '.', '_', '-' and "
                                    "spaces becomes '_'). .safetensors is added."),
        ]

    @classmethod
    def schema_outputs(cls):
        return [io.String.Output(display_name="lora_name", tooltip="The saved file's name inside the loras folder "
                                                                   "(what Load LoRA lists after a refresh).")]

    @classmethod
    def execute(cls, model, filename):
        lora = find_identity_lora(model)
        if lora is None:
            raise ValueError("model: carries no identity LoRA; connect the output of the Identity LoRA (peft) node")
        path = save_lora(lora, folder_paths.get_folder_paths("loras")[0], filename)
        name = os.path.basename(path)
        return io.NodeOutput(name, ui={"text": [name]})
