"""sde_core: SDE and ODE diffusion editing in pure PyTorch (no ComfyUI import).

One Gaussian posterior over ``x = a(sigma) x0 + b(sigma) eps`` gives every sampler of
"The Blessing of Randomness: SDE Beats ODE in General Diffusion-based Image Editing"
(Nie et al., ICLR 2024): DDPM/DDIM steps, DDIM inversion, Cycle-SDE and SDE-Drag.
"""

from .cycle_sde import (
    Trajectory,
    cycle_step,
    cycle_step_eta,
    record_forward,
    recorded_noise,
    sample_cycle_sde,
    sample_ode_masked,
)
from .diffedit import EpsPredictions, blur_map, diffedit_mask, difference_map, eps_predictions
from .drag import (
    CopyPaste,
    DragMethod,
    DragResult,
    NoiseSource,
    copy_paste,
    ode_method,
    patch_bounds,
    plan_subdrags,
    sde_drag,
    sde_method,
)
from .eta_schedule import step_etas, switch_etas
from .posterior import eta_step, forward_step, noise_to, posterior
from .ramps import guidance_scales, lora_scales
from .sampling import KnownRegion, ddim_invert, sample_eta
from .schedule import FLOW, VP, Schedule, t0_sigmas
from .validate import (
    check_eta,
    check_latent,
    check_mask,
    check_points,
    check_points_in_mask,
    check_sigmas,
    check_steps,
    check_t0,
)

__all__ = [
    "Schedule", "VP", "FLOW", "t0_sigmas",
    "posterior", "forward_step", "noise_to", "eta_step",
    "KnownRegion", "sample_eta", "ddim_invert",
    "Trajectory", "record_forward", "cycle_step", "cycle_step_eta", "recorded_noise", "switch_etas", "step_etas",
    "sample_cycle_sde", "sample_ode_masked",
    "guidance_scales", "lora_scales",
    "plan_subdrags", "patch_bounds", "copy_paste", "CopyPaste", "NoiseSource", "DragResult", "sde_drag", "DragMethod",
    "sde_method", "ode_method",
    "EpsPredictions", "eps_predictions", "difference_map", "blur_map", "diffedit_mask",
    "check_t0", "check_eta", "check_steps", "check_sigmas", "check_points", "check_points_in_mask", "check_mask", "check_latent",
]
