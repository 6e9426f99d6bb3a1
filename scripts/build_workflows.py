"""Writes example_workflows/*.json (UI format) from the descriptions below, on the embedded
demo model. Run inside the provisioned host:  .venv/bin/python scripts/build_workflows.py

Each workflow is built with WorkflowBuilder against the node classes ComfyUI registered, so a
renamed input or node fails here, not in a user's browser.
"""
from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "example_workflows")
CASE = "red_disc_right"
# Demo-scale presets: 64x64 images, latent factor 4, so r and step_size are a quarter of SD's.
DRAG = {"steps": 50, "t0": 0.6, "cfg": 3.0, "step_size": 2, "r": 3, "alpha": 1.1, "beta": 0.3, "seed": 1234}
SWAP_NOTE = ("For a real checkpoint: replace 'SDE Drag Demo Model Loader' by Load Checkpoint, the prompts by "
             "your own, and use the paper's SD1.5 presets (steps 200, t0 0.6, cfg 3, step_size 2, r 5).")


def case_points() -> str:
    with open(os.path.join(ROOT, "demo", "cases", CASE, "prompt.json"), encoding="utf-8") as f:
        meta = json.load(f)
    return json.dumps({"points": [[s, t] for s, t in zip(meta["source"], meta["target"])], "width": 64,
                       "height": 64})


class Demo:
    """The shared front of every workflow: demo model, a bundled case, prompts, VAE encode."""

    def __init__(self, builder, note: str):
        b = self.b = builder
        b.add("MarkdownNote", (20, 20), {"text": note + "\n\n" + SWAP_NOTE}, size=[380, 220])
        self.loader = b.add("SDEDragDemoLoader", (20, 280), size=[300, 120])
        self.case = b.add("SDEDragLoadDragBenchCase", (20, 440), {"case": CASE}, size=[300, 120])
        self.pos = b.add("CLIPTextEncode", (360, 20), {"text": "red disc"}, title="Prompt")
        b.connect(self.loader, 1, self.pos, "clip")
        self.neg = b.add("CLIPTextEncode", (360, 220), {"text": ""}, title="Negative")
        b.connect(self.loader, 1, self.neg, "clip")
        self.enc = b.add("VAEEncode", (360, 420), size=[220, 60])
        b.connect(self.case, 0, self.enc, "pixels")
        b.connect(self.loader, 2, self.enc, "vae")

    def decode_and_save(self, latent_node, slot, pos, prefix, animated=False):
        b = self.b
        dec = b.add("VAEDecode", pos, size=[220, 60])
        b.connect(latent_node, slot, dec, "samples")
        b.connect(self.loader, 2, dec, "vae")
        if animated:
            save = b.add("SaveAnimatedWEBP", (pos[0] + 250, pos[1]), {"filename_prefix": prefix, "fps": 4.0})
        else:
            save = b.add("SaveImage", (pos[0] + 250, pos[1]), {"filename_prefix": prefix})
        b.connect(dec, 0, save, "images")
        return save


def drag_node(demo, method, pos, points_node, points_slot, title=None):
    b = demo.b
    node = b.add("SDEDragAllInOne", pos, {"method": method, **DRAG}, title=title, size=[320, 420])
    b.connect(demo.loader, 0, node, "model")
    b.connect(demo.pos, 0, node, "positive")
    b.connect(demo.neg, 0, node, "negative")
    b.connect(demo.enc, 0, node, "latent")
    b.connect(points_node, points_slot, node, "drag_points")
    b.connect(demo.case, 1, node, "mask")
    return node


def wf_sde_drag(builder):
    d = Demo(builder, "# SDE-Drag with the point widget\nClick a source, then its target, on the image in "
                      "'Drag Points'. The case's mask limits the edit. Outputs the result and the drag trajectory.")
    points = builder.add("SDEDragPoints", (640, 20), {"points": case_points()}, size=[320, 380])
    builder.connect(d.case, 0, points, "image")
    drag = drag_node(d, "sde", (1000, 20), points, 0)
    d.decode_and_save(drag, 0, (1360, 20), "sde_drag/result")
    d.decode_and_save(drag, 1, (1360, 200), "sde_drag/trajectory", animated=True)


def wf_composable(builder):
    d = Demo(builder, "# SDE-Drag from composable nodes\nStochastic Inversion records the noise up to t0, "
                      "Latent Copy-Paste Drag moves the patch, SDE Denoise (Cycle-SDE) denoises with the recorded "
                      "noise inside the mask. This is one sub-drag; the all-in-one node repeats it in small steps.")
    b = builder
    inv = b.add("SDEDragStochasticInversion", (640, 20), {"steps": 50, "t0": 0.6, "seed": 1234})
    b.connect(d.loader, 0, inv, "model")
    b.connect(d.enc, 0, inv, "latent")
    paste = b.add("SDEDragCopyPaste", (1000, 20), {"r": 3, "alpha": 1.1, "beta": 0.3, "seed": 1234})
    b.connect(inv, 0, paste, "latent")
    b.connect(inv, 1, paste, "trajectory")
    b.connect(d.case, 2, paste, "drag_points")
    den = b.add("SDEDragCycleDenoise", (1000, 260), {"cfg": 3.0, "cfg_ramp": "linear from 1 (paper)"})
    b.connect(d.loader, 0, den, "model")
    b.connect(paste, 0, den, "latent")
    b.connect(inv, 1, den, "trajectory")
    b.connect(d.pos, 0, den, "positive")
    b.connect(d.neg, 0, den, "negative")
    b.connect(d.case, 1, den, "mask")
    d.decode_and_save(den, 0, (1360, 260), "sde_drag/composable")


def wf_reconstruction(builder):
    d = Demo(builder, "# Cycle-SDE reconstruction\nStochastic Inversion then SDE Denoise with no edit: the latent "
                      "comes back exactly (the recorded noise retraces the path). The decoded image equals the "
                      "VAE's own reconstruction.")
    b = builder
    inv = b.add("SDEDragStochasticInversion", (640, 20), {"steps": 50, "t0": 0.6, "seed": 1234})
    b.connect(d.loader, 0, inv, "model")
    b.connect(d.enc, 0, inv, "latent")
    den = b.add("SDEDragCycleDenoise", (1000, 20), {"cfg": 3.0})
    b.connect(d.loader, 0, den, "model")
    b.connect(inv, 0, den, "latent")
    b.connect(inv, 1, den, "trajectory")
    b.connect(d.pos, 0, den, "positive")
    b.connect(d.neg, 0, den, "negative")
    d.decode_and_save(den, 0, (1360, 20), "sde_drag/reconstruction")
    d.decode_and_save(d.enc, 0, (1360, 200), "sde_drag/vae_only")


def wf_drag_vs_ode(builder):
    d = Demo(builder, "# SDE-Drag vs ODE-Drag\nThe same drag, points, mask, steps and seed with the SDE (Cycle-SDE) "
                      "and the ODE (DDIM inversion + DDIM) sampler. Both trajectories are saved as animations.")
    for row, method in enumerate(("sde", "ode")):
        node = drag_node(d, method, (640, 20 + 460 * row), d.case, 2, title=f"{method.upper()}-Drag")
        d.decode_and_save(node, 0, (1000, 20 + 460 * row), f"sde_drag/{method}_result")
        d.decode_and_save(node, 1, (1000, 200 + 460 * row), f"sde_drag/{method}_trajectory", animated=True)


def fresh(demo, eta, pos, title, t0, mask=False, prompt_node=None):
    b = demo.b
    node = b.add("SDEDragFreshDenoise", pos, {"eta": eta, "steps": 50, "t0": t0, "seed": 1234, "cfg": 3.0},
                 title=title, size=[320, 300])
    b.connect(demo.loader, 0, node, "model")
    b.connect(demo.enc, 0, node, "latent")
    b.connect(prompt_node or demo.pos, 0, node, "positive")
    b.connect(demo.neg, 0, node, "negative")
    if mask:
        b.connect(demo.case, 1, node, "mask")
    return node


def wf_img2img(builder):
    d = Demo(builder, "# SDE vs ODE image-to-image (SDEdit)\nBoth noise the input to t0 with the SAME seeded draw "
                      "and denoise over the same sigmas with the prompt 'blue disc': eta 1 is the SDE (DDPM), eta 0 "
                      "the ODE (DDIM). They differ only in the sampler.")
    blue = builder.add("CLIPTextEncode", (640, 640), {"text": "blue disc"}, title="Edit prompt")
    builder.connect(d.loader, 1, blue, "clip")
    for row, (eta, name) in enumerate(((1.0, "sde"), (0.0, "ode"))):
        node = fresh(d, eta, (640, 20 + 320 * row), f"{name.upper()} img2img (eta {eta:g})", 0.5, prompt_node=blue)
        d.decode_and_save(node, 0, (1000, 20 + 320 * row), f"sde_drag/img2img_{name}")


def wf_inpaint(builder):
    d = Demo(builder, "# SDE vs ODE inpainting\nThe case's mask is regenerated from pure noise (t0 = 1) with the "
                      "prompt; outside the mask every step takes the original noised to that level, so it is kept "
                      "exactly. Same seed for both samplers.")
    for row, (eta, name) in enumerate(((1.0, "sde"), (0.0, "ode"))):
        node = fresh(d, eta, (640, 20 + 320 * row), f"{name.upper()} inpainting (eta {eta:g})", 1.0, mask=True)
        d.decode_and_save(node, 0, (1000, 20 + 320 * row), f"sde_drag/inpaint_{name}")


def wf_diffedit(builder):
    d = Demo(builder, "# DiffEdit-SDE vs DiffEdit-ODE\nDiffEdit Mask finds where 'red disc' and 'blue disc' disagree. "
                      "ODE: DDIM inversion with the source prompt, masked DDIM with the target. SDE: Cycle-SDE "
                      "inversion, masked Cycle-SDE denoising with the target prompt on the edited branch and the "
                      "source prompt on the recorded one (paper: t0 0.7, cfg 7.5, 50 steps).")
    b = builder
    target = b.add("CLIPTextEncode", (640, 640), {"text": "blue disc"}, title="Target prompt")
    b.connect(d.loader, 1, target, "clip")
    mask = b.add("SDEDragDiffEditMask", (640, 20), {"strength": 0.5, "noises": 10, "threshold": 0.5, "blur": 1.0,
                                                    "seed": 1234})
    b.connect(d.loader, 0, mask, "model")
    b.connect(d.enc, 0, mask, "latent")
    b.connect(d.pos, 0, mask, "source")
    b.connect(target, 0, mask, "target")
    inv = b.add("SDEDragStochasticInversion", (1000, 20), {"steps": 50, "t0": 0.7, "seed": 1234})
    b.connect(d.loader, 0, inv, "model")
    b.connect(d.enc, 0, inv, "latent")
    sde = b.add("SDEDragCycleDenoise", (1360, 20), {"cfg": 5.0}, title="DiffEdit-SDE")
    for origin, slot, name in ((d.loader, 0, "model"), (inv, 0, "latent"), (inv, 1, "trajectory"),
                               (target, 0, "positive"), (d.neg, 0, "negative"), (mask, 0, "mask"),
                               (d.pos, 0, "recorded_positive")):
        b.connect(origin, slot, sde, name)
    d.decode_and_save(sde, 0, (1720, 20), "sde_drag/diffedit_sde")
    ode_inv = b.add("SDEDragODEInversion", (1000, 400), {"steps": 50, "t0": 0.7})
    b.connect(d.loader, 0, ode_inv, "model")
    b.connect(d.pos, 0, ode_inv, "positive")
    b.connect(d.enc, 0, ode_inv, "latent")
    ode = b.add("SDEDragODEDenoise", (1360, 400), {"cfg": 5.0}, title="DiffEdit-ODE")
    for origin, slot, name in ((d.loader, 0, "model"), (ode_inv, 0, "latent"), (ode_inv, 1, "trajectory"),
                               (target, 0, "positive"), (d.neg, 0, "negative"), (mask, 0, "mask")):
        b.connect(origin, slot, ode, name)
    d.decode_and_save(ode, 0, (1720, 400), "sde_drag/diffedit_ode")


def wf_lora(builder):
    d = Demo(builder, "# SDE-Drag with identity LoRA\nIdentity LoRA (peft) fine-tunes a rank-4 LoRA on the input image "
                      "(paper: 100 steps), so the dragged object keeps its look. During the drag the LoRA scale "
                      "ramps with a cosine from lora_scale_min at t0 to 1 near the image. Skip it when the edit "
                      "merely reproduces the original (overfitting).")
    b = builder
    lora = b.add("SDEDragIdentityLoRA", (640, 440), {"rank": 4, "steps": 100, "learning_rate": 2e-4, "seed": 1234})
    b.connect(d.loader, 0, lora, "model")
    b.connect(d.pos, 0, lora, "positive")
    b.connect(d.enc, 0, lora, "latent")
    node = b.add("SDEDragAllInOne", (1000, 20), {"method": "sde", **DRAG, "lora_scale_min": 0.5}, size=[320, 440])
    for origin, slot, name in ((lora, 0, "model"), (d.pos, 0, "positive"), (d.neg, 0, "negative"),
                               (d.enc, 0, "latent"), (d.case, 2, "drag_points"), (d.case, 1, "mask")):
        b.connect(origin, slot, node, name)
    d.decode_and_save(node, 0, (1360, 20), "sde_drag/lora_result")
    d.decode_and_save(node, 1, (1360, 200), "sde_drag/lora_trajectory", animated=True)


WORKFLOWS = {
    "01_sde_drag_point_widget_and_mask": wf_sde_drag,
    "02_sde_drag_composable_nodes": wf_composable,
    "03_cycle_sde_reconstruction": wf_reconstruction,
    "04_img2img_sde_vs_ode": wf_img2img,
    "05_inpainting_sde_vs_ode": wf_inpaint,
    "06_diffedit_sde_vs_ode": wf_diffedit,
    "07_sde_drag_identity_lora": wf_lora,
    "08_sde_drag_vs_ode_drag_animation": wf_drag_vs_ode,
}


def build_all(node_classes, only=None):
    from workflow_api import WorkflowBuilder

    os.makedirs(OUT, exist_ok=True)
    written = []
    for name, build in WORKFLOWS.items():
        if only and name not in only:
            continue
        builder = WorkflowBuilder(node_classes)
        build(builder)
        path = os.path.join(OUT, name + ".json")
        builder.save(path)
        written.append(path)
    return written


if __name__ == "__main__":
    sys.path[:0] = [os.path.join(ROOT, "scripts")]
    sys.path.append(os.path.join(ROOT, "tests"))
    from comfy_host import ComfyHost

    host = ComfyHost()
    import nodes

    for path in build_all(nodes.NODE_CLASS_MAPPINGS):
        print("wrote", os.path.relpath(path, ROOT))
