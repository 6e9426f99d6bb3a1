"""What is timed: LATENT in -> LATENT out, model already loaded, no VAE.

Every workload calls a node class (or ComfyUI's own sampling entry point) directly, in this
process, with the same MODEL, CONDITIONING and LATENT objects and under
`torch.inference_mode()` as ComfyUI's executor runs nodes; no executor, no graph validation,
no caching on either side.
"""
from __future__ import annotations

import inspect

import torch

from . import models
from .measure import CallCounter, counted


class Workloads:
    """The drag and its references on one model, one image size, one schedule."""

    def __init__(self, host, model_name: str, size: int, steps: int, t0: float, cfg: float, *, step_size: int = 2,
                 drag_px: int = 16, r: int = 5, alpha: float = 1.1, beta: float = 0.3, seed: int = 1,
                 model=None, info=None, reference_sampler: str = "euler_ancestral"):
        import comfy.sample
        import comfy.samplers
        import latent_preview

        self.comfy_sample, self.comfy_samplers, self.latent_preview = comfy.sample, comfy.samplers, latent_preview
        self.host = host
        if model is None:
            model, info = models.build(model_name)
        self.counter = CallCounter()
        self.base_model = model
        self.model = counted(model, self.counter)
        self.info = info
        self.size, self.steps, self.t0, self.cfg = size, steps, t0, cfg
        self.step_size, self.r, self.alpha, self.beta, self.seed = step_size, r, alpha, beta, seed
        self.reference_sampler = reference_sampler
        self.positive = models.conditioning(model_name, 1)
        self.negative = models.conditioning(model_name, 2)
        self.latent = models.latent(size, 1, seed=3)
        c = size // 2
        self.points_text = f"{c},{c} -> {c + drag_px},{c}"
        points_format = host.module("nodes.points_format")
        self.points = points_format.parse_drag_points(self.points_text)
        self.drag_node = host.module("nodes.drag").SDEDragAllInOne()
        self._has_lora_ramp = "lora_scale_min" in inspect.signature(self.drag_node.execute).parameters
        self.sigmas = host.module("nodes.model_space").paper_sigmas(self.model, steps, t0)
        self.n_steps = len(self.sigmas) - 1
        sde_core = host.module("sde_core")
        sources, targets = self._cells()
        self.n_subdrags = len(sde_core.plan_subdrags(sources, targets, step_size))
        self.cfg_scales = sde_core.guidance_scales(self.n_steps, cfg)

    def _cells(self):
        pairs = torch.tensor(self.points.pairs, dtype=torch.float64) / 8
        return pairs[:, 0], pairs[:, 1]

    def settings(self) -> dict:
        return {"model": self.info["name"], "image_size": f"{self.size}x{self.size}",
                "latent_shape": list(self.latent["samples"].shape), "steps": self.steps, "t0": self.t0,
                "denoising_steps": self.n_steps, "sub_drags": self.n_subdrags, "cfg": self.cfg,
                "cfg_ramp": [round(c, 4) for c in self.cfg_scales], "step_size": self.step_size, "r": self.r,
                "alpha": self.alpha, "beta": self.beta, "points": self.points_text,
                "sigmas": [round(float(s), 5) for s in self.sigmas]}

    # ---------------------------------------------------------------- the sides

    def drag(self, model=None, sigmas=None, lora_scale_min=0.5):
        """SDEDragAllInOne.drag (method sde) on a batch-1 LATENT."""
        more = {"lora_scale_min": lora_scale_min} if self._has_lora_ramp else {}
        with torch.inference_mode():
            out = self.drag_node.execute(
                model or self.model, self.positive, self.latent, self.points, "sde", self.steps, self.t0, self.cfg,
                self.step_size, self.r, self.alpha, self.beta, self.seed, negative=self.negative, sigmas=sigmas,
                **more)
        return out[0]

    def comfy_sampling(self, sampler, batch: int, sigmas=None, model=None):
        """ComfyUI's own sampling as the SamplerCustom node runs it (`comfy.sample.sample_custom`
        with seeded noise and the latent-preview callback), over `sigmas`, on a LATENT of `batch`."""
        sigmas = self.sigmas if sigmas is None else sigmas
        model = model or self.model
        if isinstance(sampler, str):
            sampler = self.comfy_samplers.sampler_object(sampler)
        with torch.inference_mode():
            latent = self.latent["samples"].repeat(batch, 1, 1, 1)
            noise = self.comfy_sample.prepare_noise(latent, self.seed)
            callback = self.latent_preview.prepare_callback(model, len(sigmas) - 1, {})
            samples = self.comfy_sample.sample_custom(model, noise, self.cfg, sampler, sigmas, self.positive,
                                                      self.negative, latent, callback=callback, disable_pbar=True,
                                                      seed=self.seed)
        return {"samples": samples}

    def reference(self, sigmas=None):
        """Equal-NFE reference of the drag: a batch-2 LATENT (the drag's [edited, recorded]
        rows), the same sigmas, one model call per step."""
        return self.comfy_sampling(self.reference_sampler, 2, sigmas)

    def warm_up(self, log=None):
        """One single-step run of each side (loads the model, allocates, imports lazily)."""
        last = self.sigmas[-2:].clone()
        self.drag(sigmas=last)
        self.reference(sigmas=last)
        self.counter.reset()

    def count(self, fn) -> dict:
        self.counter.reset()
        fn()
        return self.counter.snapshot()
