"""How the model is evaluated: a GUIDER as given, or MODEL + conditionings + cfg, and the
rules that keep a node from guiding silently less (no negative) or twice (guidance-distilled)."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

import comfy.samplers


def is_guidance_distilled(model) -> bool:
    """A model that takes its guidance scale as an input (Flux dev and Flux 2: `comfy.model_base.Flux`
    with `guidance_embed` in its unet config); FluxGuidance puts the scale in the conditioning."""
    import comfy.model_base

    base = getattr(model, "model", model)
    config = getattr(getattr(base, "model_config", None), "unet_config", {}) or {}
    return isinstance(base, comfy.model_base.Flux) and bool(config.get("guidance_embed"))


def check_guidance(model, cfg: float, has_negative: bool) -> None:
    """The guidance rules, so no node guides silently less or more than asked.

    - A guidance-distilled model (Flux dev) is already guided by the scale FluxGuidance puts in
      the conditioning; classifier-free guidance on top would guide twice. So cfg must be 1
      (then `negative` is not needed and not used, and a cfg ramp is constant 1).
    - Otherwise cfg != 1 needs a `negative`: the paper guides against the empty prompt, and
      these nodes cannot encode text, so without one the node refuses rather than run unguided.
    """
    if abs(cfg - 1.0) < 1e-9:
        return
    if is_guidance_distilled(model):
        raise ValueError(
            f"cfg: this model is guidance-distilled (Flux dev): its guidance is the FluxGuidance value in the "
            f"conditioning, and cfg {cfg:g} would guide it a second time; set cfg to 1 (no negative is needed) and "
            "set the guidance with a FluxGuidance node on the positive conditioning")
    if not has_negative:
        raise ValueError(
            f"negative: cfg is {cfg:g} but no negative conditioning is connected, so there is nothing to guide "
            "against; connect a CLIP Text Encode of an empty prompt to negative (the paper guides against the "
            "empty prompt), or set cfg to 1 for an unguided run")


@dataclass
class GuidanceSpec:
    """How to evaluate the model: a GUIDER as given, or MODEL + conditionings + cfg."""

    model: object
    guider: object = None
    positive: list | None = None
    negative: list | None = None
    cfg: float = 1.0
    rec_positive: list | None = None
    rec_negative: list | None = None

    def __post_init__(self):
        check_guidance(self.model if self.guider is None else getattr(self.guider, "model_patcher", self.model),
                       self.base_cfg,
                       has_negative=self.guider is not None or self.negative is not None)

    @property
    def base_cfg(self) -> float:
        if self.guider is not None:
            return float(getattr(self.guider, "cfg", 1.0))
        return float(self.cfg)

    def build(self, recorded_branch: bool = False):
        """A fresh guider (a copy: the user's cached GUIDER is never changed)."""
        if self.guider is not None:
            if self.rec_positive is not None:
                raise ValueError("recorded_positive: a separate recorded-branch prompt needs MODEL + conditioning, "
                                 "not a GUIDER; disconnect the GUIDER or the recorded_positive input")
            guider = copy.copy(self.guider)
            guider.original_conds = dict(self.guider.original_conds)
            return guider
        if self.positive is None:
            raise ValueError("positive: connect a positive CONDITIONING (or a GUIDER)")
        if recorded_branch and self.rec_positive is not None:
            guider = BranchGuider(self.model)
            conds = {"positive": self.positive, "rec_positive": self.rec_positive}
            if self.negative is not None:
                conds["negative"] = self.negative
            if self.rec_negative is not None or self.negative is not None:
                conds["rec_negative"] = self.rec_negative if self.rec_negative is not None else self.negative
            guider.inner_set_conds(conds)
        else:
            guider = comfy.samplers.CFGGuider(self.model)
            conds = {"positive": self.positive}
            if self.negative is not None:
                conds["negative"] = self.negative
            guider.inner_set_conds(conds)
        guider.set_cfg(self.base_cfg)
        return guider


class BranchGuider(comfy.samplers.CFGGuider):
    """Cycle-SDE guider whose batch is [edited; recorded]: the edited half sees
    positive/negative, the recorded half rec_positive/rec_negative (DiffEdit-SDE: target
    prompt for the edit, source prompt for the recording)."""

    def predict_noise(self, x, timestep, model_options={}, seed=None):
        half = x.shape[0] // 2
        run = comfy.samplers.sampling_function
        edited = run(self.inner_model, x[:half], timestep[:half], self.conds.get("negative"),
                     self.conds.get("positive"), self.cfg, model_options=model_options, seed=seed)
        recorded = run(self.inner_model, x[half:], timestep[half:], self.conds.get("rec_negative"),
                       self.conds.get("rec_positive"), self.cfg, model_options=model_options, seed=seed)
        return torch.cat([edited, recorded])
