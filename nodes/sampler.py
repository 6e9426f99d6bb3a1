"""The SDE/ODE eta sampler as ComfyUI's SAMPLER type, for SamplerCustom / SamplerCustomAdvanced.

The node needs no MODEL: the model family's (a, b) is read inside the sampler function from
the running model's `model_sampling` (`model.inner_model.inner_model.model_sampling`, as
ComfyUI's own `lcm` sampler reads it), so one SAMPLER works with every model, GUIDER,
scheduler, LoRA and ControlNet. Noise is drawn as ComfyUI's samplers draw it:
`default_noise_sampler(x, seed=extra_args["seed"])`, one draw per step whose next sigma is above
0, so eta = 1 matches ComfyUI's `ddpm` and eta = 0 its `euler`/`ddim` (without a mask).
"""
from __future__ import annotations

import functools

import comfy.k_diffusion.sampling
import comfy.samplers
import torch

from comfy_api.v0_0_2 import io

from ..sde_core import sample_eta
from . import inputs
from .base import SDEDragNode
from .model_space import schedule_of_sampling


def eta_input():
    return io.Float.Input("eta", default=1.0, min=0.0, max=1.0, step=0.01,
                          tooltip="DDIM's eta: 1 = SDE (the DDPM posterior step, fresh noise every step), 0 = ODE "
                                  "(deterministic DDIM step, same as euler); values between mix the two.")


def model_sampling_of(model):
    """The `model_sampling` of the model a KSAMPLER hands its function (KSamplerX0Inpaint ->
    guider -> BaseModel); a few wrapper levels are searched."""
    obj = model
    for _ in range(6):
        sampling = getattr(obj, "model_sampling", None)
        if sampling is not None:
            return sampling
        obj = getattr(obj, "inner_model", None)
        if obj is None:
            break
    raise ValueError("SDE Sampler: cannot find the model's model_sampling (run it from SamplerCustom/"
                     "SamplerCustomAdvanced or a KSAMPLER-compatible node)")


@torch.no_grad()
def sample_eta_comfy(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None, eta=1.0):
    """k-diffusion-shaped `sde_core.sample_eta` with ComfyUI's seeded noise and the running
    model's schedule."""
    extra_args = {} if extra_args is None else extra_args
    if noise_sampler is None:
        noise_sampler = comfy.k_diffusion.sampling.default_noise_sampler(x, seed=extra_args.get("seed", None))
    schedule = schedule_of_sampling(model_sampling_of(model))
    return sample_eta(model, x, sigmas, extra_args=extra_args, callback=callback, disable=disable, eta=eta,
                      noise_sampler=noise_sampler, schedule=schedule)


class SDEDragSampler(SDEDragNode, io.ComfyNode):
    """SDE/ODE sampler as a SAMPLER for SamplerCustom / SamplerCustomAdvanced: the posterior step of
    x = a(s) x0 + b(s) eps with DDIM's eta (1 = SDE/DDPM, 0 = ODE/DDIM). Works for EPS, V-prediction and
    rectified-flow (CONST) models, read from the model at run time; the noise comes from the sampler node's
    seed, as in ComfyUI's own samplers."""
    node_id = "SDEDragSampler"
    display_name = "SDE Sampler (eta)"

    @classmethod
    def schema_inputs(cls):
        return [eta_input()]

    @classmethod
    def schema_outputs(cls):
        return [io.Sampler.Output(tooltip="A SAMPLER for SamplerCustom / SamplerCustomAdvanced.")]

    @classmethod
    def validate_inputs(cls, eta=None):
        return inputs.check_widgets(cls, eta=eta)

    @classmethod
    def execute(cls, eta):
        if not 0.0 <= float(eta) <= 1.0:  # a linked eta is not seen by validate_inputs
            raise ValueError(f"eta: must be in [0, 1] (1 = SDE, 0 = ODE), got {eta}")
        return io.NodeOutput(comfy.samplers.KSAMPLER(functools.partial(sample_eta_comfy, eta=float(eta))))
