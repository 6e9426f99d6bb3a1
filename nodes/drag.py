"""Dragging nodes: one latent copy-paste (composable) and the all-in-one multi-step SDE Drag."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from comfy_api.v0_0_2 import io

from ..sde_core import (CopyPaste, DragMethod, NoiseSource, copy_paste, guidance_scales, lora_scales, ode_method,
                        plan_subdrags, sde_drag, sde_method)
from . import inputs
from .base import SDEDragNode
from .guidance import GuidanceSpec
from .limits import check_memory, check_representable, drag_memory_estimate, memory_text
from .lora_train import find_identity_lora, lora_ramp_sigmas, with_identity_lora
from .model_space import choose_sigmas, generator_for, image_factor, latent_samples, schedule_of, with_samples
from .presets import DEMO_PRESETS_TEXT, FAST_PRESETS_TEXT, PAPER, PAPER_PRESETS_TEXT
from .runner import CLEAN, GuidedRun
from .size_units import LEGACY_UNIT, radius_cells, size_unit_input, step_cells


def downscale_factor(latent_format, points, latent_width: int) -> float:
    """Image pixels per latent cell: from the size the points were picked on when known, else
    the latent format's own factor (`model_space.image_factor`: 8 for the common VAEs)."""
    if points.width is not None:
        return points.width / latent_width
    return float(image_factor(latent_format))


def vae_encode_crop(drag_points, height: int, width: int, factor: int):
    """Points picked on a picture that VAE Encode centre-cropped to this h x w latent (sides up to
    factor - 1 px longer than w * f, h * f; ComfyUI's `vae_encode_crop_pixels` drops (side % f) // 2 px
    first) -> (sources, targets) in cells, floor((p - offset) / f), clamped to the latent (a point on the
    cropped border falls in the edge cell); None when the points' picture is not such a picture.
    `nodes/masks.py` crops the mask the same way, so a point and its mask cell stay together."""
    w_px, h_px = drag_points.width, drag_points.height
    if w_px is None or (w_px, h_px) == (width * factor, height * factor):
        return None  # no size recorded, or an exact multiple: the plain rule below
    if w_px // factor != width or h_px // factor != height:
        return None
    drag_points.check_inside(w_px, h_px)
    if not drag_points.pairs:
        raise ValueError("drag_points: the point list is empty; add at least one source -> target pair")
    offset = torch.tensor([(w_px % factor) // 2, (h_px % factor) // 2], dtype=torch.float64)
    cells = torch.floor((torch.tensor(drag_points.pairs, dtype=torch.float64) - offset) / factor)
    cells = torch.minimum(cells.clamp(min=0), torch.tensor([width - 1, height - 1], dtype=torch.float64))
    return cells[:, 0], cells[:, 1]


def points_in_cells(drag_points, samples: torch.Tensor, latent_format):
    """DRAG_POINTS (image pixels) -> (sources, targets) [P, 2] whole latent cells (float64).

    Pixels are rounded down to the cell they fall in, floor(p / factor), before any planning,
    as the authors' code does: (200, 200) -> (263, 263) px at factor 8 is (25, 25) -> (32, 32)."""
    height, width = samples.shape[-2:]
    cropped = vae_encode_crop(drag_points, height, width, image_factor(latent_format))
    if cropped is not None:
        return cropped
    factor = downscale_factor(latent_format, drag_points, width)
    image_w, image_h = round(width * factor), round(height * factor)
    points = drag_points.scaled_to(image_w, image_h) if drag_points.width is not None else drag_points
    points.check_inside(image_w, image_h)
    if not points.pairs:
        raise ValueError("drag_points: the point list is empty; add at least one source -> target pair")
    pairs = torch.floor(torch.tensor(points.pairs, dtype=torch.float64) / factor)
    return pairs[:, 0], pairs[:, 1]


def drag_knobs():
    """r, alpha, beta: the copy-paste's settings (defaults: the paper's; see nodes/presets.py)."""
    return [
        io.Int.Input("r", default=PAPER["r"], min=1, max=64,
                     tooltip=f"Half-size of the copied square, in size_unit (64ths of the short side by default: "
                             f"the paper's {PAPER['r']} is 5 latent cells at 512 px, 10 at 1024 px)."),
        io.Float.Input("alpha", default=PAPER["alpha"], min=0.0, max=3.0, step=0.01,
                       tooltip=f"Gain on the pasted patch at the target (paper: {PAPER['alpha']})."),
        io.Float.Input("beta", default=PAPER["beta"], min=0.0, max=1.0, step=0.01,
                       tooltip=f"Source refill: beta * old + sqrt(1 - beta^2) * noise (paper: {PAPER['beta']})."),
    ]


def plan_text(n_subdrags: int, n_steps: int, calls_per_step: int) -> str:
    """What a drag will cost, said before its first model call: SDE-Drag makes one (batched)
    call per step; ODE-Drag two (DDIM inversion, then denoising)."""
    if calls_per_step == 2:
        return (f"{n_subdrags} sub-drags x {n_steps} steps x 2 (inversion + denoising) = "
                f"{n_subdrags * n_steps * 2} model calls")
    return f"{n_subdrags} sub-drags x {n_steps} steps = {n_subdrags * n_steps * calls_per_step} model calls"


class SDEDragCopyPaste(SDEDragNode, io.ComfyNode):
    """Latent copy-paste at t0 (one SDE-Drag edit): clones the square around each source point, refills the
    source with beta * old + sqrt(1 - beta^2) * fresh noise (one draw per pair) and writes alpha * clone at
    the target. Feed it the latent from an inversion node, then denoise along the same trajectory."""
    node_id = "SDEDragCopyPaste"
    display_name = "Latent Copy-Paste Drag"

    @classmethod
    def schema_inputs(cls):
        return [inputs.latent("The latent at t0 from an inversion node."), inputs.trajectory(),
                inputs.drag_points(), *drag_knobs(), inputs.seed(), size_unit_input()]

    @classmethod
    def schema_outputs(cls):
        return [io.Latent.Output(display_name="edited_latent", tooltip="The edited latent at t0.")]

    @classmethod
    def validate_inputs(cls, alpha=None, beta=None, size_unit=None):
        return inputs.check_widgets(cls, alpha=alpha, beta=beta, size_unit=size_unit)

    @classmethod
    def execute(cls, latent, trajectory, drag_points, r, alpha, beta, seed, size_unit=LEGACY_UNIT):
        samples = latent_samples(latent)
        r = radius_cells(r, size_unit, *samples.shape[-2:])
        trajectory.check_matches(samples)
        sources, targets = points_in_cells(drag_points, samples, trajectory.latent_format)
        x = trajectory.to_sampling_space(samples)
        generator = generator_for(seed)
        noise = lambda shape: torch.randn(shape, generator=generator, dtype=x.dtype)  # noqa: E731  (fresh per pair)
        scale = trajectory.schedule.vp_scale(trajectory.sigma_t0)
        edited = copy_paste(x, sources, targets, r, alpha, beta, noise, scale)
        return io.NodeOutput(with_samples(latent, trajectory.to_user_space(edited)))


def lora_scale_min():
    return io.Float.Input(
        "lora_scale_min", default=0.5, min=0.0, max=1.0, step=0.01, optional=True,
        tooltip="Only when the MODEL carries an identity LoRA (Identity LoRA node): its scale at t0; it rises with a "
                "cosine to 1 near the image (paper: 0.5). 1 keeps the LoRA at full strength throughout.")


def lora_ramp(model, guider, sigmas, lora_scale_min):
    """The paper's LoRA-scale ramp, when `model` carries an identity LoRA: a clone of `model`
    with its own copy of the LoRA, and a StepControls setter giving it the scale
    `lora_scales(n, lora_scale_min)[step]` before each numbered step's model call. The edited
    and the recorded latent share that call, so they see the same scale. Calls without a step
    (ODE-Drag's DDIM inversion) take the scale of the step evaluated at the nearest sigma, so
    the inversion and the denoising see the same LoRA at the same noise level."""
    lora = find_identity_lora(model)
    if lora is None:
        return model, []
    if guider is not None:
        raise ValueError("lora_scale_min: with a GUIDER the LoRA ramp cannot reach the guider's model; disconnect "
                         "the GUIDER (use positive/negative/cfg) to drag with an identity LoRA")
    scales = lora_scales(len(sigmas) - 1, lora_scale_min)
    ramped = lora.with_scale(None, lora_ramp_sigmas(sigmas, scales))
    model = with_identity_lora(model, ramped)

    def set_lora_scale(step):
        ramped.scale = None if step is None else scales[step]

    return model, [set_lora_scale]


class SDEDragAllInOne(SDEDragNode, io.ComfyNode):
    """SDE-Drag (Nie et al., ICLR 2024): drags image content from source to target points in small
    sub-drags; each sub-drag inverts the current latent to t0 (Cycle-SDE), copy-pastes the patches and
    denoises with the recorded noise, keeping the region outside the mask. method 'ode' runs the ODE-Drag
    baseline (DDIM inversion and DDIM). cfg ramps linearly from 1 near the image to cfg at t0. When the MODEL
    carries an identity LoRA (Identity LoRA node), its scale ramps with a cosine from lora_scale_min at t0 to
    1 near the image. Before the first model call it logs its plan (sub-drags x steps = model calls)."""
    node_id = "SDEDragAllInOne"
    display_name = "SDE Drag"
    advanced_inputs = ("step_size", "r", "alpha", "beta", "guider", "sigmas", "lora_scale_min", "size_unit")
    search_aliases = ("drag", "point drag", "drag points", "move object", "DragDiffusion", "SDE-Drag", "drag edit")

    @classmethod
    def description(cls):
        return f"{super().description()} {PAPER_PRESETS_TEXT} {FAST_PRESETS_TEXT} {DEMO_PRESETS_TEXT}"

    @classmethod
    def schema_inputs(cls):
        return [
            inputs.model(), inputs.positive(), inputs.latent(), inputs.drag_points(),
            io.Combo.Input("method", options=["sde", "ode"], default="sde",
                           tooltip="sde: SDE-Drag; ode: the ODE-Drag baseline."),
            inputs.steps(), inputs.t0(), inputs.cfg(),
            io.Int.Input("step_size", default=PAPER["step_size"], min=1, max=64,
                         tooltip=f"Length of one sub-drag, in size_unit (default 64ths of the short side; paper: "
                                 f"{PAPER['step_size']}). Smaller is slower and gentler."),
            *drag_knobs(), inputs.seed(),
            inputs.negative(), inputs.mask(), inputs.guider(), inputs.sigmas(), lora_scale_min(), size_unit_input(),
        ]

    @classmethod
    def schema_outputs(cls):
        return [io.Latent.Output(display_name="latent", tooltip="The dragged latent."),
                io.Latent.Output(display_name="frames", tooltip="The latent after every sub-drag (sub-drag-major "
                                                                "batch): decode and save as an animation.")]

    @classmethod
    def validate_inputs(cls, method=None, t0=None, cfg=None, alpha=None, beta=None, lora_scale_min=None,
                        size_unit=None):
        return inputs.check_widgets(cls, method=method, t0=t0, cfg=cfg, alpha=alpha, beta=beta,
                                    lora_scale_min=lora_scale_min, size_unit=size_unit)

    @classmethod
    def drag_method(cls, method, schedule, model):
        """The inversion and the denoising step of `method` ('sde' or 'ode'); one place to swap
        them (studies/drag_trials.py runs Cycle-SDE at DDIM's eta through a subclass)."""
        if method == "ode":
            return ode_method(schedule, float(model.get_model_object("model_sampling").sigma_min))
        return sde_method(schedule)

    @classmethod
    def execute(cls, model, positive, latent, drag_points, method, steps, t0, cfg, step_size, r, alpha, beta, seed,
                negative=None, mask=None, guider=None, sigmas=None, lora_scale_min=0.5, size_unit=LEGACY_UNIT):
        plan = DragPlan.of(cls, model, latent, drag_points, method, sigmas, steps, t0, step_size, r, size_unit)
        model, setters = lora_ramp(model, guider, plan.sigmas, lora_scale_min)
        spec = GuidanceSpec(model, guider=guider, positive=positive, negative=negative, cfg=cfg)
        run = GuidedRun(model, spec, latent, calls=plan.calls, latents_per_call=plan.method.latents_per_call,
                        cfg_scales=guidance_scales(plan.n_steps, spec.base_cfg), setters=setters, mask=mask)
        plan.log_memory(model, spec)
        out = run.sample(sde_drag, plan.sigmas, start=CLEAN, seed=seed, sources=plan.sources, targets=plan.targets,
                         method=plan.method, paste=CopyPaste(plan.r, alpha, beta, plan.step_size),
                         noise=NoiseSource(generator_for(seed)), schedule=plan.schedule, mask=run.region,
                         step_kwargs=run.step_kwargs)
        frames = torch.cat([model.model.process_latent_out(f.float()) for f in out.result.frames])
        return io.NodeOutput(with_samples(latent, out.samples), {"samples": frames})


@dataclass
class DragPlan:
    """What SDE Drag decides and checks before its first model call: the cells, the sigmas, the
    method and its cost (logged, then checked against the memory there is)."""

    sources: torch.Tensor
    targets: torch.Tensor
    sigmas: torch.Tensor
    schedule: object
    method: DragMethod
    n_subdrags: int
    shape: tuple
    r: int  # in cells
    step_size: float  # in cells

    @property
    def n_steps(self) -> int:
        return len(self.sigmas) - 1

    @property
    def calls(self) -> int:
        return self.n_subdrags * self.n_steps * self.method.calls_per_step

    @classmethod
    def of(cls, node, model, latent, drag_points, method, sigmas, steps, t0, step_size, r,
           size_unit=LEGACY_UNIT) -> "DragPlan":
        if method not in ("sde", "ode"):  # a linked value is not seen by validate_inputs
            raise ValueError(f"method: must be 'sde' or 'ode', got {method!r}")
        samples = latent_samples(latent)
        latent_format = model.model.latent_format
        sources, targets = points_in_cells(drag_points, samples, latent_format)
        sigmas = choose_sigmas(model, sigmas, steps, t0)
        schedule = schedule_of(model)
        height, width = samples.shape[-2:]
        r_cells, step_cells_ = radius_cells(r, size_unit, height, width), step_cells(step_size, size_unit, height, width)
        n_subdrags = len(plan_subdrags(sources, targets, step_cells_))
        plan = cls(sources, targets, sigmas, schedule, node.drag_method(method, schedule, model), n_subdrags,
                   tuple(samples.shape), r_cells, step_cells_)
        logging.info("SDE Drag plan: %s", plan_text(n_subdrags, plan.n_steps, plan.method.calls_per_step))
        logging.info("SDE Drag sizes: r %g and step_size %g in %s = %d and %g latent cells of %dx%d", r, step_size,
                     size_unit, r_cells, step_cells_, height, width)
        check_memory(samples.shape, plan.n_steps, n_subdrags, getattr(model, "load_device", None), "SDE Drag",
                     downscale_factor(latent_format, drag_points, samples.shape[-1]), model=model)  # before any heavy work
        check_representable(schedule, sigmas)
        return plan

    def log_memory(self, model, spec) -> None:
        logging.info("SDE Drag %s", memory_text(drag_memory_estimate(
            model, self.shape, self.method.latents_per_call, spec.base_cfg, self.n_steps, self.n_subdrags)))
