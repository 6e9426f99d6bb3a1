"""API-format graphs of the pack's nodes, built on the tiny test models."""
from __future__ import annotations


def base(family: str, width: int = 32, height: int = 32, batch: int = 1, patch=(-1, -1), seed: int = 0) -> dict:
    return {
        "model": {"class_type": "TestTinyModel", "inputs": {"family": family, "seed": 0}},
        "pos": {"class_type": "TestConditioning", "inputs": {"family": family, "seed": 1}},
        "neg": {"class_type": "TestConditioning", "inputs": {"family": family, "seed": 2}},
        "latent": {"class_type": "TestPatternLatent", "inputs": {
            "width": width, "height": height, "batch": batch, "seed": seed, "patch_x": patch[0],
            "patch_y": patch[1], "patch_radius": 3}},
    }


def capture(graph: dict, label: str, source: list) -> dict:
    graph[f"cap_{label}"] = {"class_type": "TestCapture", "inputs": {"label": label, "value": source}}
    return graph


def cycle_reconstruction(family: str, steps=10, t0=0.6, seed=7, mask=False, **kw) -> dict:
    g = base(family, **kw)
    g["inv"] = {"class_type": "SDEDragStochasticInversion", "inputs": {
        "model": ["model", 0], "latent": ["latent", 0], "steps": steps, "t0": t0, "seed": seed}}
    g["den"] = {"class_type": "SDEDragCycleDenoise", "inputs": {
        "model": ["model", 0], "latent": ["inv", 0], "trajectory": ["inv", 1], "positive": ["pos", 0],
        "negative": ["neg", 0], "cfg": 3.0}}
    capture(g, "input", ["latent", 0])
    return capture(g, "output", ["den", 0])


def one_subdrag(family: str, method: str = "sde", points: str = "48,48 -> 80,80", steps=10, t0=0.6, seed=7,
                mask_box=None, **kw) -> dict:
    """Inversion -> copy-paste -> denoise, from the composable nodes (one sub-drag)."""
    g = base(family, **kw)
    inv, den = (("SDEDragStochasticInversion", "SDEDragCycleDenoise") if method == "sde"
                else ("SDEDragODEInversion", "SDEDragODEDenoise"))
    inv_inputs = {"model": ["model", 0], "latent": ["latent", 0], "steps": steps, "t0": t0}
    inv_inputs.update({"seed": seed} if method == "sde" else {"positive": ["pos", 0]})
    g["inv"] = {"class_type": inv, "inputs": inv_inputs}
    g["points"] = {"class_type": "SDEDragPoints", "inputs": {"points": points}}
    g["paste"] = {"class_type": "SDEDragCopyPaste", "inputs": {
        "latent": ["inv", 0], "trajectory": ["inv", 1], "drag_points": ["points", 0], "r": 3, "alpha": 1.1,
        "beta": 0.3, "seed": seed}}
    g["den"] = {"class_type": den, "inputs": {
        "model": ["model", 0], "latent": ["paste", 0], "trajectory": ["inv", 1], "positive": ["pos", 0],
        "negative": ["neg", 0], "cfg": 3.0}}
    if mask_box is not None:
        g["mask"] = {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": kw.get("width", 32) * 8,
                                                           "height": kw.get("height", 32) * 8}}
        g["box"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": mask_box[2], "height": mask_box[3]}}
        g["editable"] = {"class_type": "MaskComposite", "inputs": {
            "destination": ["mask", 0], "source": ["box", 0], "x": mask_box[0], "y": mask_box[1],
            "operation": "add"}}
        g["den"]["inputs"]["mask"] = ["editable", 0]
    capture(g, "input", ["latent", 0])
    return capture(g, "output", ["den", 0])


def sde_drag(family: str, method: str = "sde", points: str = "48,48 -> 80,80", steps=10, t0=0.6, seed=7,
             step_size=2, **kw) -> dict:
    g = base(family, **kw)
    g["points"] = {"class_type": "SDEDragPoints", "inputs": {"points": points}}
    g["drag"] = {"class_type": "SDEDragAllInOne", "inputs": {
        "model": ["model", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": ["latent", 0],
        "drag_points": ["points", 0], "method": method, "steps": steps, "t0": t0, "cfg": 3.0,
        "step_size": step_size, "r": 3, "alpha": 1.1, "beta": 0.3, "seed": seed}}
    capture(g, "input", ["latent", 0])
    capture(g, "frames", ["drag", 1])
    return capture(g, "output", ["drag", 0])


def sampler_custom(family: str, sampler: dict, steps=10, denoise=1.0, seed=5, cfg=3.0, scheduler="normal",
                   **kw) -> dict:
    """SamplerCustom (ComfyUI's) with BasicScheduler sigmas and the given SAMPLER node."""
    g = base(family, **kw)
    g["sched"] = {"class_type": "BasicScheduler", "inputs": {
        "model": ["model", 0], "scheduler": scheduler, "steps": steps, "denoise": denoise}}
    g["sampler"] = sampler
    g["run"] = {"class_type": "SamplerCustom", "inputs": {
        "model": ["model", 0], "add_noise": True, "noise_seed": seed, "cfg": cfg, "positive": ["pos", 0],
        "negative": ["neg", 0], "sampler": ["sampler", 0], "sigmas": ["sched", 0], "latent_image": ["latent", 0]}}
    capture(g, "input", ["latent", 0])
    return capture(g, "output", ["run", 0])


def comfy_sampler(name: str) -> dict:
    return {"class_type": "KSamplerSelect", "inputs": {"sampler_name": name}}


def sde_sampler(eta: float) -> dict:
    return {"class_type": "SDEDragSampler", "inputs": {"eta": eta}}


def inversion_then_sampler_custom_advanced(family: str, eta=0.0, steps=10, t0=0.6, seed=7, **kw) -> dict:
    """Stochastic Inversion's noised latent denoised by SamplerCustomAdvanced + DisableNoise + our SAMPLER."""
    g = base(family, **kw)
    g["inv"] = {"class_type": "SDEDragStochasticInversion", "inputs": {
        "model": ["model", 0], "latent": ["latent", 0], "steps": steps, "t0": t0, "seed": seed}}
    g["noise"] = {"class_type": "DisableNoise", "inputs": {}}
    g["guider"] = {"class_type": "CFGGuider", "inputs": {
        "model": ["model", 0], "positive": ["pos", 0], "negative": ["neg", 0], "cfg": 1.0}}
    g["snoise"] = {"class_type": "SDEDragNoise", "inputs": {
        "model": ["model", 0], "latent": ["latent", 0], "steps": steps, "t0": t0, "seed": seed}}
    g["sampler"] = sde_sampler(eta)
    g["run"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
        "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0], "sigmas": ["snoise", 1],
        "latent_image": ["inv", 0]}}
    capture(g, "input", ["latent", 0])
    return capture(g, "output", ["run", 0])


def box_mask(g: dict, box, width: int, height: int, name: str = "editable") -> list:
    """A MASK of the image size (8 x latent) that is 1 inside box = (x, y, w, h) in image pixels."""
    g[f"{name}_bg"] = {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": width * 8, "height": height * 8}}
    g[f"{name}_box"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": box[2], "height": box[3]}}
    g[name] = {"class_type": "MaskComposite", "inputs": {
        "destination": [f"{name}_bg", 0], "source": [f"{name}_box", 0], "x": box[0], "y": box[1],
        "operation": "add"}}
    return [name, 0]


def fresh_denoise(family: str, eta=1.0, steps=10, t0=0.6, seed=7, mask_box=None, noise_mask=False, cfg=3.0,
                  width=16, height=16, **kw) -> dict:
    """SDE/ODE img2img (and inpainting with mask_box: as the node's MASK, or as the LATENT's noise_mask)."""
    g = base(family, width=width, height=height, **kw)
    g["den"] = {"class_type": "SDEDragFreshDenoise", "inputs": {
        "model": ["model", 0], "latent": ["latent", 0], "eta": eta, "steps": steps, "t0": t0, "seed": seed,
        "positive": ["pos", 0], "negative": ["neg", 0], "cfg": cfg}}
    if mask_box is not None:
        mask = box_mask(g, mask_box, width, height)
        if noise_mask:
            g["masked"] = {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["latent", 0], "mask": mask}}
            g["den"]["inputs"]["latent"] = ["masked", 0]
        else:
            g["den"]["inputs"]["mask"] = mask
    capture(g, "input", ["latent", 0])
    capture(g, "start", ["den", 1])
    return capture(g, "output", ["den", 0])


def diffedit_mask(family: str, same=False, seed=3, noises=3, threshold=0.5, blur=0.0, width=16, height=16,
                  **kw) -> dict:
    """DiffEdit Mask from source = pos and target = neg (or pos again when same)."""
    g = base(family, width=width, height=height, **kw)
    g["mask"] = {"class_type": "SDEDragDiffEditMask", "inputs": {
        "model": ["model", 0], "latent": ["latent", 0], "source": ["pos", 0],
        "target": ["pos", 0] if same else ["neg", 0], "strength": 0.5, "noises": noises,
        "threshold": threshold, "blur": blur, "seed": seed}}
    capture(g, "mask", ["mask", 0])
    capture(g, "soft", ["mask", 1])
    return capture(g, "preview", ["mask", 2])


def diffedit_sde(family: str, same=False, steps=6, t0=0.7, seed=7, width=16, height=16, **kw) -> dict:
    """DiffEdit-SDE from the pack's nodes: mask + Stochastic Inversion + Cycle-SDE denoise with the
    target prompt (neg) on the edited branch and the source prompt (pos) on the recorded one."""
    g = diffedit_mask(family, width=width, height=height, **kw)
    g["cond"] = {"class_type": "TestConditioning", "inputs": {"family": family, "seed": 9}}  # uncond
    g["inv"] = {"class_type": "SDEDragStochasticInversion", "inputs": {
        "model": ["model", 0], "latent": ["latent", 0], "steps": steps, "t0": t0, "seed": seed}}
    g["den"] = {"class_type": "SDEDragCycleDenoise", "inputs": {
        "model": ["model", 0], "latent": ["inv", 0], "trajectory": ["inv", 1],
        "positive": ["pos", 0] if same else ["neg", 0], "recorded_positive": ["pos", 0],
        "negative": ["cond", 0], "cfg": 3.0, "mask": ["mask", 0]}}
    g["rec"] = {"class_type": "SDEDragCycleDenoise", "inputs": {
        "model": ["model", 0], "latent": ["inv", 0], "trajectory": ["inv", 1], "positive": ["pos", 0],
        "recorded_positive": ["pos", 0], "negative": ["cond", 0], "cfg": 3.0}}
    capture(g, "input", ["latent", 0])
    capture(g, "reconstruction", ["rec", 0])
    return capture(g, "output", ["den", 0])
