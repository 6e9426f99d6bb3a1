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
