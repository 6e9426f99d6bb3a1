"""The pack's V3 schema pieces: its two custom types, the inputs shared by several nodes (one
wording for one knob), and the widget check every node runs in its `validate_inputs` hook.

The API is pinned to `comfy_api.v0_0_2` (a versioned module of ComfyUI 0.3.75), not `latest`.
"""
from __future__ import annotations

import math

from comfy_api.v0_0_2 import io

CATEGORY = "SDE Drag"
DEMO_CATEGORY = "SDE Drag/demo"

DragPointsType = io.Custom("DRAG_POINTS")  # nodes/points_format.DragPoints: pixel pairs + the image size
TrajectoryType = io.Custom("SDE_TRAJECTORY")  # nodes/trajectory.RecordedTrajectory

SEED_MAX = 0xFFFF_FFFF_FFFF_FFFF
MASK_SIZE = ("Size: the image's (as given to VAE Encode; up to factor - 1 px more per side is cropped as VAE Encode "
             "crops the image) or the latent's; any other size is an error.")


def seed(tooltip="Seed of every random draw of this node: the same seed gives the same output."):
    return io.Int.Input("seed", default=1234, min=0, max=SEED_MAX, control_after_generate=True, tooltip=tooltip)


def steps():
    return io.Int.Input("steps", default=200, min=1, max=10000,
                        tooltip="Steps of the full schedule over [0, T] (the paper's DDIM schedule); only the last "
                                "t0 x steps are run. Ignored when SIGMAS are connected.")


def t0(tooltip="Edit time as a fraction of T: how far the image is inverted (0 < t0 <= 1). Higher allows larger "
               "changes, lower keeps more detail. Ignored when SIGMAS are connected."):
    return io.Float.Input("t0", default=0.6, min=0.01, max=1.0, step=0.01, tooltip=tooltip)


def cfg(default=3.0, optional=False):
    return io.Float.Input(
        "cfg", default=default, min=0.0, max=100.0, step=0.1, round=0.01, optional=optional,
        tooltip="Classifier-free guidance scale. Any value but 1 needs a negative (paper: the empty prompt); without "
                "one the node refuses. Guidance-distilled models (Flux dev) take cfg 1 and their guidance from "
                "FluxGuidance; other cfg values are refused there.")


def sigmas():
    return io.Sigmas.Input("sigmas", optional=True,
                           tooltip="Optional ComfyUI SIGMAS from t0 down to 0 (any scheduler, e.g. BasicScheduler "
                                   "-> SplitSigmas). Overrides steps and t0.")


def model(tooltip="The diffusion model (EPS, V-prediction or rectified-flow)."):
    return io.Model.Input("model", tooltip=tooltip)


def positive(optional=False, tooltip="Prompt conditioning (describe the desired result)."):
    return io.Conditioning.Input("positive", optional=optional, tooltip=tooltip)


def negative():
    return io.Conditioning.Input(
        "negative", optional=True,
        tooltip="Negative conditioning for classifier-free guidance: the paper guides against the empty prompt (CLIP "
                "Text Encode with no text). Required when cfg is not 1; not needed (and unused) at cfg 1, e.g. on "
                "Flux dev.")


def guider():
    return io.Guider.Input("guider", optional=True,
                           tooltip="Optional ComfyUI GUIDER used as is instead of positive/negative/cfg (a CFGGuider's "
                                   "cfg is ramped where this node ramps cfg; other guiders are not).")


def mask(tooltip="Editable region (1 = may change). Outside it every step keeps the recorded latent, so the rest of "
                 "the image is kept exactly. " + MASK_SIZE):
    return io.Mask.Input("mask", optional=True, tooltip=tooltip)


def trajectory():
    return TrajectoryType.Input("trajectory", tooltip="The recording made by an inversion node at these sigmas.")


def latent(tooltip="Image latent (e.g. from VAE Encode)."):
    return io.Latent.Input("latent", tooltip=tooltip)


def drag_points():
    return DragPointsType.Input("drag_points", tooltip="Source -> target pairs in image pixels, from the Drag Points "
                                                   "node (the whole drag; every latent of a batch gets the same "
                                                   "points).")


def value_problem(spec, name: str, value) -> str | None:
    """What is wrong with one INT/FLOAT/COMBO value against its declared input, or None.

    INT: an integer; FLOAT: a finite number; both within the schema's min/max; COMBO: one of
    the options. Other input types (MODEL, LATENT, ...) are not checked here."""
    options = getattr(spec, "options", None)
    if options is not None:
        return None if value in options else f"{name}: {value!r} is not one of {options}"
    if not isinstance(spec, (io.Int.Input, io.Float.Input)):
        return None
    if isinstance(value, bool):
        return f"{name}: must be a number, got {value!r}"
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return f"{name}: must be a number, got {value!r}"
    if not math.isfinite(number):
        return f"{name}: must be a finite number, got {value!r}"
    if isinstance(spec, io.Int.Input) and number != int(number):
        return f"{name}: must be a whole number, got {value!r}"
    if spec.min is not None and number < spec.min:
        return f"{name}: {number:g} is smaller than the minimum {spec.min:g}"
    if spec.max is not None and number > spec.max:
        return f"{name}: {number:g} is bigger than the maximum {spec.max:g}"
    return None


def check_widgets(node_cls, **values) -> bool | str:
    """The body of a node's `validate_inputs(cls, <its FLOAT and COMBO widgets>)`.

    - FLOAT: finite and within the schema's min/max. NaN passes ComfyUI's own min/max comparison
      (a shared API-format workflow can hold NaN), and ComfyUI skips its min/max check for the
      inputs a `validate_inputs` names, so both are checked here.
    - COMBO: one of the schema's options. ComfyUI 0.3.75 checks combo values only for legacy
      nodes (whose combo type is the list itself), not for a V3 `io.Combo`.

    Linked or absent inputs arrive as None: `check_linked` checks them at run time."""
    declared = {i.id: i for i in node_cls.define_schema().inputs}  # (GET_SCHEMA would write to a locked clone)
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(declared[name], (io.Int.Input, io.Float.Input)) or hasattr(declared[name], "options"):
            problem = value_problem(declared[name], name, value)
            if problem:
                return problem
    return True


def check_linked(node_cls, values: dict) -> None:
    """Every INT, FLOAT and COMBO input of a run, checked against its declared bounds and options.

    ComfyUI checks min/max only on widget values; a value that arrives through a link (a
    Primitive, a math node, an API-format workflow) reaches `execute` unchecked, so a NaN cfg
    would give NaN latents, an r of 0 a drag that moves nothing, a linked steps of 10**9 a run
    that never ends. Raises ValueError naming the input and the allowed range."""
    declared = {i.id: i for i in node_cls.define_schema().inputs}
    for name, value in values.items():
        if value is None or name not in declared:
            continue
        problem = value_problem(declared[name], name, value)
        if problem:
            raise ValueError(f"{problem} (a value given through a link is checked when the node runs: "
                             f"fix the node that feeds {name})")
