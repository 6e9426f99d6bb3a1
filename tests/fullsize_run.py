"""Runs the pack's nodes on one full-size family in this (fresh) process and prints JSON figures.

    .venv/bin/python tests/fullsize_run.py sd15 [--extended]
    .venv/bin/python tests/fullsize_run.py --template "11 SD1.5 - SDE-Drag with the paper presets"

The files come from harness/fullsize_models.py (built in a separate process when missing, so
this process's peak memory is the run's alone). ComfyUI boots through harness/comfy_host and
every graph runs through its executor, loaded the way a user loads the family:
Load Checkpoint for sd15 / sd21v / sdxl; Load Diffusion Model + DualCLIPLoader (flux) +
Load VAE for flux, with FluxGuidance in the positive and cfg 1 (guidance-distilled).

The image is user-shaped: a grey EmptyImage with a red square pasted in, VAE-encoded.
Default set: the detected family, Cycle-SDE reconstruction, SDE Drag (method sde) with a
mask. --extended adds the ODE-Drag baseline, img2img, inpainting, DiffEdit, the SDE Sampler in SamplerCustom, and
an identity LoRA trained, saved and reloaded by the core LoraLoaderModelOnly.
--template runs one shipped real-checkpoint template (example_workflows/11..17) as shipped on its
family's files, with the picture the pack installs into ComfyUI's input folder at load: the template
is converted to API format, only its step counts (TEMPLATE_STEPS) and its resize (to a short side of
TEMPLATE_PICTURE_SIZE px, same aspect) are lowered,
and the graph runs through the executor; the JSON lists each saved file and each saved image batch.
The last stdout line is the JSON; peak_rss_gib is this process's peak resident memory.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# run as a script (a fresh process per family): harness from the repository root, the template tools from scripts/
sys.path += [str(REPO), str(REPO / "scripts")]

from harness import fullsize_models  # noqa: E402

SIZE = 128  # image pixels (16 x 16 latent cells)
SQUARE = (40, 40, 32)  # the red square: x, y, side in pixels
POINTS = "56,56 -> 72,56"  # from the square's centre, 2 latent cells right: one sub-drag of step_size 2
EDIT_BOX = (24, 24, 80, 80)  # editable region, pixels (x, y, w, h) -> latent cells 3..13
SETTINGS = {  # steps, t0, cfg per family: few steps keep make test's budget
    "sd15": {"steps": 5, "t0": 0.6, "cfg": 3.0},
    "sd21v": {"steps": 5, "t0": 0.6, "cfg": 3.0},
    "sdxl": {"steps": 5, "t0": 0.6, "cfg": 3.0},
    "flux": {"steps": 5, "t0": 0.6, "cfg": 1.0},
}


ARTIFACTS = HERE / "artifacts" / "fullsize"  # the figures, for docs/fullsize.md (tests/artifacts is not tracked)


def run_fresh(args: list[str], label: str, artifact: str, timeout: int) -> dict:
    """Runs this script with `args` in a fresh process (one full-size model in memory at a time); returns
    the figures it prints on its last line, also written to tests/artifacts/fullsize/<artifact>.json."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))
    assert done.returncode == 0, f"{label}: fullsize_run.py failed:\n{done.stderr[-6000:]}"
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{artifact}.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(f"\n{label}: {json.dumps(figures)}", flush=True)
    return figures


def proc_rss_bytes(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last /proc/self/clear_refs 5) of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def loaders(family: str) -> dict:
    """Nodes that load the family and make positive, negative and the input latent."""
    files = fullsize_models.FAMILIES[family]["files"]
    g = {}
    if family == "flux":
        g["load_model"] = {"class_type": "UNETLoader", "inputs": {"unet_name": files["unet"][1],
                                                                   "weight_dtype": "default"}}
        g["load_clip"] = {"class_type": "DualCLIPLoader", "inputs": {
            "clip_name1": files["clip_l"][1], "clip_name2": files["t5xxl"][1], "type": "flux"}}
        g["load_vae"] = {"class_type": "VAELoader", "inputs": {"vae_name": files["vae"][1]}}
        model, clip, vae = ["load_model", 0], ["load_clip", 0], ["load_vae", 0]
        g["text"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a red square on grey", "clip": clip}}
        g["pos"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": ["text", 0], "guidance": 3.5}}
        # cfg 1 never evaluates the negative; it is connected so no node falls back silently
        g["neg"] = {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["text", 0]}}
    else:
        g["load_model"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": files["checkpoint"][1]}}
        model, clip, vae = ["load_model", 0], ["load_model", 1], ["load_model", 2]
        g["pos"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a red square on grey", "clip": clip}}
        g["neg"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": clip}}
    g["bg"] = {"class_type": "EmptyImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1,
                                                      "color": 0x808080}}
    g["square"] = {"class_type": "EmptyImage", "inputs": {"width": SQUARE[2], "height": SQUARE[2], "batch_size": 1,
                                                          "color": 0xD02020}}
    g["image"] = {"class_type": "ImageCompositeMasked", "inputs": {
        "destination": ["bg", 0], "source": ["square", 0], "x": SQUARE[0], "y": SQUARE[1], "resize_source": False}}
    g["latent"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["image", 0], "vae": vae}}
    g["mask_bg"] = {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": SIZE, "height": SIZE}}
    g["mask_box"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": EDIT_BOX[2], "height": EDIT_BOX[3]}}
    g["mask"] = {"class_type": "MaskComposite", "inputs": {
        "destination": ["mask_bg", 0], "source": ["mask_box", 0], "x": EDIT_BOX[0], "y": EDIT_BOX[1],
        "operation": "add"}}
    g["refs"] = {"model": model, "clip": clip, "vae": vae}
    return g


def capture(g: dict, label: str, source: list):
    g[f"cap_{label}"] = {"class_type": "TestCapture", "inputs": {"label": label, "value": source}}


class Runner:
    def __init__(self, family: str):
        from harness.comfy_host import ComfyHost

        self.family = family
        self.settings = SETTINGS[family]
        self.host = ComfyHost()  # first: tiny_models imports ComfyUI's `nodes`, which must be ComfyUI's own
        from harness import tiny_models

        self.host.register({"TestCapture": tiny_models.TestCapture})
        self.captured = tiny_models.CAPTURED
        self.base = loaders(family)
        self.refs = self.base.pop("refs")
        self.seconds = {}

    def graph(self) -> dict:
        return json.loads(json.dumps(self.base))

    def run(self, name: str, g: dict):
        self.captured.clear()
        for node in g.values():  # a label of its own per graph: a cached capture would not run again
            if node["class_type"] == "TestCapture":
                node["inputs"]["label"] = f"{name}/{node['inputs']['label']}"
        started = time.time()
        # the executor's cache keeps the loaded model and encoded prompts between graphs
        result = self.host.run(g, fresh_cache=False)
        self.seconds[name] = round(time.time() - started, 1)
        if not result.ok:
            raise RuntimeError(f"{self.family} {name}: {result.error_message}")
        print(f"[fullsize-run] {self.family} {name}: {self.seconds[name]} s, peak RSS {peak_rss_gib():.2f} GiB",
              file=sys.stderr, flush=True)
        return {label.split("/", 1)[1]: value for label, value in self.captured.items()}

    def guided(self, inputs: dict) -> dict:
        return dict(inputs, positive=["pos", 0], negative=["neg", 0], cfg=self.settings["cfg"])

    # ------------------------------------------------------------ default set
    def detect(self) -> dict:
        g = self.graph()
        capture(g, "model", self.refs["model"])
        capture(g, "latent", ["latent", 0])
        cap = self.run("load", g)
        model = cap["model"].model
        x = cap["latent"]["samples"]
        return {"config": type(model.model_config).__name__, "model_type": model.model_type.name,
                "parameters_m": round(sum(p.numel() for p in model.diffusion_model.parameters()) / 1e6, 1),
                "latent_shape": list(x.shape), "latent_finite": bool(x.isfinite().all())}

    def reconstruction(self) -> dict:
        s = self.settings
        g = self.graph()
        g["inv"] = {"class_type": "SDEDragStochasticInversion", "inputs": {
            "model": self.refs["model"], "latent": ["latent", 0], "steps": s["steps"], "t0": s["t0"], "seed": 7}}
        g["den"] = {"class_type": "SDEDragCycleDenoise", "inputs": self.guided({
            "model": self.refs["model"], "latent": ["inv", 0], "trajectory": ["inv", 1]})}
        capture(g, "input", ["latent", 0])
        capture(g, "output", ["den", 0])
        cap = self.run("reconstruction", g)
        out, inp = cap["output"]["samples"], cap["input"]["samples"]
        return {"max_abs_error": (out - inp).abs().max().item(), "input_max_abs": inp.abs().max().item(),
                "dtype": str(out.dtype).replace("torch.", ""), "finite": bool(out.isfinite().all())}

    def drag(self, method: str) -> dict:
        s = self.settings
        g = self.graph()
        g["points"] = {"class_type": "SDEDragPoints", "inputs": {"points": POINTS}}
        g["drag"] = {"class_type": "SDEDragAllInOne", "inputs": self.guided({
            "model": self.refs["model"], "latent": ["latent", 0], "drag_points": ["points", 0], "method": method,
            "steps": s["steps"], "t0": s["t0"], "step_size": 2, "r": 3, "alpha": 1.1, "beta": 0.3, "seed": 7,
            "mask": ["mask", 0]})}
        g["decode"] = {"class_type": "VAEDecode", "inputs": {"samples": ["drag", 0], "vae": self.refs["vae"]}}
        capture(g, "input", ["latent", 0])
        capture(g, "output", ["drag", 0])
        capture(g, "image", ["decode", 0])
        cap = self.run(f"drag_{method}", g)
        return {**self.inside_outside(cap["input"]["samples"], cap["output"]["samples"]),
                "image_shape": list(cap["image"].shape), "image_finite": bool(cap["image"].isfinite().all())}

    @staticmethod
    def inside_outside(inp, out) -> dict:
        import torch

        f = 8  # pixels per latent cell for every family here
        x0, y0 = EDIT_BOX[0] // f, EDIT_BOX[1] // f
        x1, y1 = (EDIT_BOX[0] + EDIT_BOX[2]) // f, (EDIT_BOX[1] + EDIT_BOX[3]) // f
        inside = torch.zeros(out.shape[-2:], dtype=torch.bool)
        inside[y0:y1, x0:x1] = True
        change = (out - inp).abs()
        return {"shape": list(out.shape), "input_shape": list(inp.shape), "finite": bool(out.isfinite().all()),
                "inside_max_change": change[..., inside].max().item(),
                "outside_max_change": change[..., ~inside].max().item()}

    # ------------------------------------------------------------ extended set
    def fresh(self, eta: float, masked: bool) -> dict:
        s = self.settings
        g = self.graph()
        g["den"] = {"class_type": "SDEDragFreshDenoise", "inputs": self.guided({
            "model": self.refs["model"], "latent": ["latent", 0], "eta": eta, "steps": s["steps"], "t0": s["t0"],
            "seed": 7})}
        if masked:
            g["den"]["inputs"]["mask"] = ["mask", 0]
        capture(g, "input", ["latent", 0])
        capture(g, "output", ["den", 0])
        cap = self.run(f"{'inpaint' if masked else 'img2img'}_eta{eta:g}", g)
        return self.inside_outside(cap["input"]["samples"], cap["output"]["samples"])

    def diffedit(self) -> dict:
        s = self.settings
        g = self.graph()
        clip = self.refs["clip"]
        g["target_text"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a blue circle on grey", "clip": clip}}
        target = ["target_text", 0]
        if self.family == "flux":
            g["target"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": target, "guidance": 3.5}}
            target = ["target", 0]
        g["dmask"] = {"class_type": "SDEDragDiffEditMask", "inputs": {
            "model": self.refs["model"], "latent": ["latent", 0], "source": ["pos", 0], "target": target,
            "strength": 0.5, "noises": 2, "threshold": 0.5, "blur": 0.0, "seed": 3}}
        g["inv"] = {"class_type": "SDEDragStochasticInversion", "inputs": {
            "model": self.refs["model"], "latent": ["latent", 0], "steps": s["steps"], "t0": s["t0"], "seed": 7}}
        g["den"] = {"class_type": "SDEDragCycleDenoise", "inputs": self.guided({
            "model": self.refs["model"], "latent": ["inv", 0], "trajectory": ["inv", 1],
            "recorded_positive": ["pos", 0], "mask": ["dmask", 0]})}
        g["den"]["inputs"]["positive"] = target
        capture(g, "input", ["latent", 0])
        capture(g, "mask", ["dmask", 0])
        capture(g, "output", ["den", 0])
        cap = self.run("diffedit", g)
        out, inp, mask = cap["output"]["samples"], cap["input"]["samples"], cap["mask"]
        return {"mask_shape": list(mask.shape), "mask_fraction": mask.float().mean().item(),
                "shape": list(out.shape), "finite": bool(out.isfinite().all()),
                "max_change": (out - inp).abs().max().item()}

    def sampler_custom(self) -> dict:
        s = self.settings
        g = self.graph()
        g["sched"] = {"class_type": "BasicScheduler", "inputs": {
            "model": self.refs["model"], "scheduler": "simple", "steps": s["steps"], "denoise": s["t0"]}}
        g["sampler"] = {"class_type": "SDEDragSampler", "inputs": {"eta": 1.0}}
        g["run"] = {"class_type": "SamplerCustom", "inputs": {
            "model": self.refs["model"], "add_noise": True, "noise_seed": 5, "cfg": s["cfg"], "positive": ["pos", 0],
            "negative": ["neg", 0], "sampler": ["sampler", 0], "sigmas": ["sched", 0],
            "latent_image": ["latent", 0]}}
        capture(g, "input", ["latent", 0])
        capture(g, "output", ["run", 0])
        cap = self.run("sampler_custom", g)
        out, inp = cap["output"]["samples"], cap["input"]["samples"]
        return {"shape": list(out.shape), "input_shape": list(inp.shape), "finite": bool(out.isfinite().all()),
                "max_change": (out - inp).abs().max().item()}

    def lora_memory(self, steps: int = 3) -> dict:
        """Peak resident memory of Identity LoRA training alone: the model is loaded and the prompt and
        latent computed by a first graph (kept in the executor's cache), the process's peak RSS is reset
        to the current RSS (/proc/self/clear_refs), then a graph that only trains runs; the figure is
        VmHWM - RSS before the training graph."""
        import comfy.model_management

        g = self.graph()
        capture(g, "model", self.refs["model"])
        capture(g, "pos", ["pos", 0])
        capture(g, "latent", ["latent", 0])
        cap = self.run("lora_memory_load", g)
        comfy.model_management.load_models_gpu([cap["model"]])
        before = proc_rss_bytes("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        g = self.graph()
        g["train"] = {"class_type": "SDEDragIdentityLoRA", "inputs": {
            "model": self.refs["model"], "positive": ["pos", 0], "rank": 4, "steps": steps, "learning_rate": 1e-3,
            "seed": 1, "latent": ["latent", 0]}}
        capture(g, "trained", ["train", 0])
        self.run("lora_memory_train", g)
        peak = proc_rss_bytes("VmHWM")
        weights = int(cap["model"].model_size())
        return {"steps": steps, "latent_shape": list(cap["latent"]["samples"].shape), "rss_before_gib": before / 2**30,
                "peak_gib": peak / 2**30, "training_peak_above_loaded_gib": (peak - before) / 2**30,
                "weights_gib": weights / 2**30, "peak_above_loaded_per_weights": (peak - before) / weights}

    def lora(self) -> dict:
        import torch

        s = self.settings
        g = self.graph()
        g["train"] = {"class_type": "SDEDragIdentityLoRA", "inputs": {
            "model": self.refs["model"], "positive": ["pos", 0], "rank": 4, "steps": 3, "learning_rate": 1e-3,
            "seed": 1, "latent": ["latent", 0]}}
        g["save"] = {"class_type": "SDEDragSaveLoRA", "inputs": {"model": ["train", 0],
                                                                 "filename": f"sde_drag_fullsize_{self.family}"}}
        capture(g, "lora_name", ["save", 0])
        name = self.run("lora_train_save", g)["lora_name"]

        def img2img(model):
            g = self.graph()
            if model is not None:
                g["lora"] = {"class_type": "LoraLoaderModelOnly", "inputs": {
                    "model": self.refs["model"], "lora_name": name, "strength_model": 1.0}}
            g["den"] = {"class_type": "SDEDragFreshDenoise", "inputs": self.guided({
                "model": ["lora", 0] if model is not None else self.refs["model"], "latent": ["latent", 0],
                "eta": 1.0, "steps": s["steps"], "t0": s["t0"], "seed": 7})}
            capture(g, "output", ["den", 0])
            return self.run("lora_reloaded_img2img" if model is not None else "base_img2img", g)["output"]["samples"]

        with_lora, without = img2img("lora"), img2img(None)
        import folder_paths

        path = Path(folder_paths.get_full_path("loras", name))
        difference = (with_lora - without).abs().max().item()
        path.unlink()  # keep the harness's loras folder clean
        return {"lora_name": name, "finite": bool(torch.isfinite(with_lora).all()),
                "max_change_vs_base": difference}


# ---------------------------------------------------------------- shipped templates
TEMPLATE_FAMILY = {"11": "sd15", "12": "sd15", "13": "sd15", "14": "sdxl", "15": "flux_t5_fp16", "16": "sd15",
                   "17": "flux_fp8"}
# Only step counts are lowered: drag / img2img / inpainting steps (t0 as shipped, so 5 x t0 are run) and the
# identity LoRA's training steps. Everything else, picture size aside, is the template as shipped.
TEMPLATE_STEPS = {"SDEDragAllInOne": 5, "SDEDragFreshDenoise": 5, "SDEDragIdentityLoRA": 2}
TEMPLATE_PICTURE_SIZE = 128  # pixels, the short side the templates' resize is lowered to; SDEDragPoints rescales
SAVE_NODES = ("SaveImage", "SaveAnimatedWEBP")


def run_template(name: str, size: int = TEMPLATE_PICTURE_SIZE) -> dict:
    """Runs example_workflows/<name>.json on its family's full-size files; returns figures (see module doc)."""
    import numpy as np
    from PIL import Image

    from harness.comfy_host import ComfyHost
    from harness import tiny_models

    started = time.time()
    host = ComfyHost()  # first: it sets ComfyUI's base directory, which folder_paths reads on import
    import folder_paths
    from build_workflows import PICTURE
    from workflow_api import check_links, to_api
    host.register({"TestCapture": tiny_models.TestCapture})
    import nodes

    workflow = json.loads((REPO / "example_workflows" / f"{name}.json").read_text())
    check_links(workflow, nodes.NODE_CLASS_MAPPINGS)
    prompt = to_api(workflow, nodes.NODE_CLASS_MAPPINGS)
    lowered = {}
    for node_id, node in prompt.items():
        if node["class_type"] in TEMPLATE_STEPS:
            lowered[node_id] = {"node": node["class_type"], "shipped": node["inputs"]["steps"],
                                "run": TEMPLATE_STEPS[node["class_type"]]}
            node["inputs"]["steps"] = TEMPLATE_STEPS[node["class_type"]]
        if node["class_type"] == "ImageScale":  # the resize of picture and mask: same aspect, short side `size`
            width, height = node["inputs"]["width"], node["inputs"]["height"]
            scale = size / min(width, height)
            node["inputs"]["width"], node["inputs"]["height"] = round(width * scale), round(height * scale)
            lowered[node_id] = {"node": "ImageScale", "shipped": [width, height],
                                "run": [node["inputs"]["width"], node["inputs"]["height"]]}
    # the images each save node receives are captured too, to check them as tensors (finite, size)
    for node_id, node in list(prompt.items()):
        if node["class_type"] in SAVE_NODES:
            prompt[f"cap_{node_id}"] = {"class_type": "TestCapture",
                                        "inputs": {"label": node_id, "value": node["inputs"]["images"]}}

    picture = Path(folder_paths.get_input_directory()) / PICTURE
    if picture.read_bytes() != (REPO / "example_pictures" / PICTURE).read_bytes():
        raise RuntimeError(f"{picture} is not the shipped picture: the pack did not install it at load")
    tiny_models.CAPTURED.clear()
    result = host.run(prompt)
    out = {"template": name, "picture_size": size, "steps_lowered": lowered, "ok": result.ok,
           "run_seconds": round(time.time() - started, 1)}
    if not result.ok:
        out["error"] = result.error_message
    captured = {}
    for node_id, images in tiny_models.CAPTURED.items():
        captured[prompt[node_id]["inputs"]["filename_prefix"]] = {
            "shape": list(images.shape), "finite": bool(images.isfinite().all()),
            "min": images.min().item(), "max": images.max().item(), "std": images.float().std().item()}
    out["images"] = captured
    files = []
    output_dir = Path(folder_paths.get_output_directory())
    for node_output in result.outputs.values():
        for item in node_output.get("images", []):
            path = output_dir / item.get("subfolder", "") / item["filename"]
            with Image.open(path) as saved:
                frames = getattr(saved, "n_frames", 1)
                pixels = np.asarray(saved.convert("RGB"))
                files.append({"file": str(path.relative_to(output_dir)), "size": list(saved.size), "frames": frames,
                              "distinct_values": int(len(np.unique(pixels)))})
            path.unlink()  # keep the harness's output folder clean
    out["files"] = files
    return out


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", nargs="?", choices=list(fullsize_models.ALL_FAMILIES))
    parser.add_argument("--extended", action="store_true")
    parser.add_argument("--template", help="a shipped real-checkpoint template's name (example_workflows/11..17)")
    parser.add_argument("--picture-size", type=int, default=TEMPLATE_PICTURE_SIZE)
    parser.add_argument("--lora-memory", action="store_true",
                        help="only the peak memory of Identity LoRA training above the loaded model")
    args = parser.parse_args(argv)
    started = time.time()
    if args.template:
        args.family = TEMPLATE_FAMILY[args.template[:2]]
    elif not args.family:
        parser.error("give a family or --template")
    if any(not p.exists() for p in fullsize_models.cached_files(args.family).values()):
        # build in another process: its memory is returned before this run loads the files
        subprocess.run([sys.executable, "-m", "harness.fullsize_models", args.family], check=True, cwd=REPO)
    fullsize_models.ensure(args.family)  # links into the base directory
    build_seconds = round(time.time() - started, 1)
    if args.template:
        out = {"family": args.family, "build_seconds": build_seconds, **run_template(args.template, args.picture_size)}
        out["seconds"] = round(time.time() - started, 1)
        out["peak_rss_gib"] = round(peak_rss_gib(), 2)
        print(json.dumps(out))
        return 0
    if args.lora_memory:
        global SIZE
        SIZE = args.picture_size  # the loaders' picture (their graphs read SIZE when built)
        r = Runner(args.family)
        print(json.dumps({"family": args.family, "picture_size": SIZE, **r.lora_memory()}))
        return 0
    r = Runner(args.family)
    out = {"family": args.family, "settings": dict(r.settings, size=SIZE, points=POINTS, edit_box=EDIT_BOX),
           "build_seconds": build_seconds}
    out["detected"] = r.detect()
    out["reconstruction"] = r.reconstruction()
    out["drag"] = {"sde": r.drag("sde")}
    if args.extended:
        # one failing check must not hide the others' figures: its error is reported in its place
        checks = {"drag_ode": lambda: r.drag("ode"),
                  "img2img": lambda: {"sde": r.fresh(1.0, False), "ode": r.fresh(0.0, False)},
                  "inpaint": lambda: r.fresh(1.0, True), "diffedit": r.diffedit,
                  "sampler_custom": r.sampler_custom, "lora": r.lora}
        for name, check in checks.items():
            try:
                out[name] = check()
            except Exception as error:  # noqa: BLE001 (reported to the test as the figure)
                out[name] = {"error": f"{type(error).__name__}: {error}"}
    out["seconds"] = dict(r.seconds, total=round(time.time() - started, 1))
    out["peak_rss_gib"] = round(peak_rss_gib(), 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
