"""Writes example_workflows/*.json (UI format) from the descriptions below. Run inside the provisioned host:
    .venv/bin/python scripts/build_workflows.py

Two kinds of template, numbered in the order a newcomer should open them:
- DEMO_WORKFLOWS (01-08) run as shipped on the embedded 64x64 demo model (tests/test_example_workflows.py
  executes every one);
- REAL_WORKFLOWS (11-16) are the same edits on SD1.5, SDXL and Flux, with the model files named as their
  usual distributions name them and the `models` metadata the frontend uses to offer a missing model for
  download (tests/test_templates_real_checkpoints.py validates them).

Each workflow is built with WorkflowBuilder against the node classes ComfyUI registered, so a renamed input or
node fails here, not in a user's browser. Nodes are placed in columns from the sizes the frontends draw them at
(scripts/node_sizes.json, measured in a real browser by scripts/measure_node_sizes.py), so no two overlap.
"""
from __future__ import annotations

import importlib.util
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "example_workflows")
SIZES = os.path.join(ROOT, "scripts", "node_sizes.json")
CASE = "red_disc_right"


def pack_stamp() -> dict:
    """What ComfyUI's frontend writes into a node's properties to say which pack it comes from
    (core nodes get {"cnr_id": "comfy-core", "ver": <ComfyUI version>}): the pack's Comfy Registry
    id and version from pyproject.toml. ComfyUI-Manager offers the pack for a missing node by it."""
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    return {"cnr_id": project["name"], "ver": project["version"]}


def pack_node_ids() -> set:
    with open(os.path.join(ROOT, "node_list.json"), encoding="utf-8") as f:
        return set(json.load(f))


def _presets():
    """nodes/presets.py, where the drag settings are defined once (plain Python, loaded by path: the nodes
    package imports ComfyUI)."""
    spec = importlib.util.spec_from_file_location("sde_drag_presets", os.path.join(ROOT, "nodes", "presets.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PRESETS = _presets()
# The nodes take r and step_size in 64ths of the latent's short side (nodes/size_units.py), so the presets are
# said in that unit: the demo's (64x64 images, 16x16 latents) r 3 and step_size 2 cells are 12 and 8.
DRAG = {**PRESETS.in_short_side_64ths(PRESETS.DEMO, PRESETS.DEMO_LATENT_SIDE), "seed": 1234}
# The paper's SD1.5 presets (512x512 pictures, 64x64 latents).
PAPER = {**PRESETS.PAPER, "seed": 1234}
# SDXL and Flux at 1024x1024: latents of 128x128 cells. In 64ths of the short side the paper's r 5 and
# step_size 2 are 10 and 4 cells there: the same share of the picture as on SD1.5 (reasoned, not measured).
LARGE = PAPER
# The fast preset: the paper's with 25 steps (an eighth of its model calls; README "Performance", figure 5).
FAST = {**PRESETS.FAST, "seed": 1234}
REAL_NOTE = ("Models, picture and prompts are yours to change: the file names are ComfyUI's own templates' (the "
             "frontend offers a missing one for download).")
DEMO_NOTE = "Runs as is on the pack's 64x64 demo model. For SD1.5, SDXL or Flux open templates 11-17."
# The real-checkpoint templates' picture (example_pictures/, copied into ComfyUI's input folder at load): the
# coffee photograph with its mask painted in as Load Image's own mask (MaskEditor's alpha).
PICTURE = "sde_drag_coffee.png"
PICTURE_SIZE = (600, 400)
# Its drag: the spoon, 60 px of the photograph to the right (bowl and handle end), in the photograph's pixels.
SPOON_DRAG = [[[365, 285], [425, 285]], [[410, 75], [470, 75]]]

HF = "https://huggingface.co/"
MODELS = {  # file name -> (models/ folder, download address), as ComfyUI's own templates name them
    "v1-5-pruned-emaonly-fp16.safetensors": (
        "checkpoints", HF + "Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/v1-5-pruned-emaonly-fp16.safetensors"),
    "sd_xl_base_1.0.safetensors": (
        "checkpoints", HF + "stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors"),
    "flux1-dev.safetensors": ("diffusion_models", HF + "Comfy-Org/flux1-dev/resolve/main/flux1-dev.safetensors"),
    "flux1-dev-fp8.safetensors": ("checkpoints", HF + "Comfy-Org/flux1-dev/resolve/main/flux1-dev-fp8.safetensors"),
    "clip_l.safetensors": ("text_encoders", HF + "comfyanonymous/flux_text_encoders/resolve/main/clip_l.safetensors"),
    "t5xxl_fp16.safetensors": (
        "text_encoders", HF + "comfyanonymous/flux_text_encoders/resolve/main/t5xxl_fp16.safetensors"),
    "ae.safetensors": ("vae", HF + "Comfy-Org/Lumina_Image_2.0_Repackaged/resolve/main/split_files/vae/ae.safetensors"),
}
SD15_FILE, SDXL_FILE, FLUX_FP8_FILE = ("v1-5-pruned-emaonly-fp16.safetensors", "sd_xl_base_1.0.safetensors",
                                       "flux1-dev-fp8.safetensors")
LICENCES = {
    "sd15": "Licence: CreativeML Open RAIL-M (Stable Diffusion 1.5).",
    "sdxl": "Licence: CreativeML Open RAIL++-M (SDXL 1.0).",
    "flux": ("Licence: FLUX.1 [dev] Non-Commercial License (Black Forest Labs): accept it on the model's "
             "Hugging Face page before the download, and read it for what it allows."),
}

GAP_X, GAP_Y, TITLE = 60, 50, 36  # between columns, between nodes in a column; title bar (drawn above pos)
GROUP_PAD, GROUP_TITLE = 12, 38  # a group's margin around its nodes; its title bar
MIN_SIZE = {  # room for what a node shows beyond its widgets: the point editor, a saved picture's preview
    "MarkdownNote": [440, 380], "SDEDragPoints": [360, 400], "SaveImage": [300, 330], "SaveAnimatedWEBP": [300, 380],
    "LoadImage": [320, 380]}


def model_info(name: str) -> dict:
    directory, url = MODELS[name]
    return {"name": name, "url": url, "directory": directory}


def case_points() -> str:
    with open(os.path.join(ROOT, "demo", "cases", CASE, "prompt.json"), encoding="utf-8") as f:
        meta = json.load(f)
    return json.dumps({"points": [[s, t] for s, t in zip(meta["source"], meta["target"])], "width": 64,
                       "height": 64})


def drawn_sizes() -> dict:
    if not os.path.exists(SIZES):
        return {}
    with open(SIZES, encoding="utf-8") as f:
        return json.load(f)


class Sheet:
    """A workflow laid out in columns: `add(kind, column, ...)` stacks nodes top-down in a column; `place()`
    gives each node the size the frontends draw it at (at least) and a position clear of every other node."""

    def __init__(self, builder, sizes: dict):
        self.b, self.sizes, self.columns, self.groups = builder, sizes, {}, []
        self.stamp, self.pack_ids = pack_stamp(), pack_node_ids()

    def add(self, kind, column, widgets=None, title=None, size=None, properties=None):
        if kind in self.pack_ids:
            properties = {**self.stamp, **(properties or {})}
        measured = self.sizes.get(kind, [320, 160])
        want = [max(a, b) for a, b in zip(measured, size or MIN_SIZE.get(kind, [0, 0]))]
        node = self.b.add(kind, (0, 0), widgets, title=title, size=want, properties=properties)
        self.columns.setdefault(column, []).append(node)
        return node

    def connect(self, *args):
        self.b.connect(*args)

    def wire(self, node, **origins):
        """Connects each named input of `node` to its origin (node, slot), in the order given; an origin of
        None leaves that input open."""
        for name, origin in origins.items():
            if origin is not None:
                self.connect(*origin, node, name)
        return node

    def group(self, columns, title):
        """A titled group around every node of `columns` (one column or a (first, last) range), drawn after
        `place()`."""
        first, last = (columns, columns) if isinstance(columns, int) else columns
        self.groups.append((title, first, last))

    def place(self):
        x = 20
        for column in sorted(self.columns):
            y = 20 + TITLE
            nodes = [self.b.nodes[i - 1] for i in self.columns[column]]
            for node in nodes:
                node["pos"] = [x, y]
                y += node["size"][1] + TITLE + GAP_Y
            x += max(node["size"][0] for node in nodes) + GAP_X
        for title, first, last in self.groups:
            inside = [self.b.nodes[i - 1] for c in range(first, last + 1) for i in self.columns.get(c, [])]
            x0 = min(n["pos"][0] for n in inside) - GROUP_PAD
            y0 = min(n["pos"][1] for n in inside) - TITLE - GROUP_TITLE
            x1 = max(n["pos"][0] + n["size"][0] for n in inside) + GROUP_PAD
            y1 = max(n["pos"][1] + n["size"][1] for n in inside) + GROUP_PAD
            self.b.groups.append({"title": title, "bounding": [x0, y0, x1 - x0, y1 - y0], "color": "#3f789e",
                                  "font_size": 24, "flags": {}})


class Demo:
    """The shared front of every demo workflow: a note, the demo model, a bundled case, prompts, VAE encode."""

    def __init__(self, sheet: Sheet, note: str):
        s = self.s = sheet
        s.add("MarkdownNote", 0, {"text": note + "\n\n" + DEMO_NOTE})
        self.loader = s.add("SDEDragDemoLoader", 0)
        self.case = s.add("SDEDragLoadDragBenchCase", 0, {"case": CASE})
        self.pos = s.add("CLIPTextEncode", 1, {"text": "red disc"}, title="Prompt")
        s.connect(self.loader, 1, self.pos, "clip")
        self.neg = s.add("CLIPTextEncode", 1, {"text": ""}, title="Negative")
        s.connect(self.loader, 1, self.neg, "clip")
        self.enc = s.add("VAEEncode", 1)
        s.connect(self.case, 0, self.enc, "pixels")
        s.connect(self.loader, 2, self.enc, "vae")
        self.vae = (self.loader, 2)

    def stochastic_inversion(self, column, t0):
        """Stochastic Inversion of the case's latent up to t0 (50 steps, seed 1234)."""
        inv = self.s.add("SDEDragStochasticInversion", column, {"steps": 50, "t0": t0, "seed": 1234})
        return self.s.wire(inv, model=(self.loader, 0), latent=(self.enc, 0))


def decode_and_save(s: Sheet, vae, latent_node, slot, column, prefix, animated=False):
    dec = s.add("VAEDecode", column)
    s.connect(latent_node, slot, dec, "samples")
    s.connect(*vae, dec, "vae")
    if animated:
        save = s.add("SaveAnimatedWEBP", column + 1, {"filename_prefix": prefix, "fps": 4.0})
    else:
        save = s.add("SaveImage", column + 1, {"filename_prefix": prefix})
    s.connect(dec, 0, save, "images")
    return save


def drag_node(s, model, pos, neg, latent, points, mask, column, presets, method="sde", title=None, **extra):
    node = s.add("SDEDragAllInOne", column, {"method": method, **presets, **extra}, title=title)
    return s.wire(node, model=model, positive=pos, negative=neg, latent=latent, drag_points=points, mask=mask)


# ---- demo templates (run as shipped on the embedded demo model) ----

def wf_sde_drag(s):
    d = Demo(s, "# SDE-Drag: click points on the picture\nIn 'Drag Points' click a source on the picture, then its "
                "target; drag a point to move it, right-click to delete a pair. The case's mask limits the edit. "
                "Press Run: the result and the drag trajectory are saved.")
    points = s.add("SDEDragPoints", 2, {"points": case_points()})
    s.connect(d.case, 0, points, "image")
    drag = drag_node(s, (d.loader, 0), (d.pos, 0), (d.neg, 0), (d.enc, 0), (points, 0), (d.case, 1), 3, DRAG)
    decode_and_save(s, d.vae, drag, 0, 4, "sde_drag/result")
    decode_and_save(s, d.vae, drag, 1, 4, "sde_drag/trajectory", animated=True)


def wf_drag_vs_ode(s):
    d = Demo(s, "# SDE-Drag vs ODE-Drag\nThe same drag, points, mask, steps and seed with the SDE (Cycle-SDE) "
                "and the ODE (DDIM inversion + DDIM) sampler. Both trajectories are saved as animations.")
    for method in ("sde", "ode"):
        node = drag_node(s, (d.loader, 0), (d.pos, 0), (d.neg, 0), (d.enc, 0), (d.case, 2), (d.case, 1), 2, DRAG,
                         method=method, title=f"{method.upper()}-Drag")
        decode_and_save(s, d.vae, node, 0, 3, f"sde_drag/{method}_result")
        decode_and_save(s, d.vae, node, 1, 3, f"sde_drag/{method}_trajectory", animated=True)


def fresh(s, model, latent, pos, neg, eta, column, title, t0, steps=50, cfg=3.0, mask=None):
    node = s.add("SDEDragFreshDenoise", column, {"eta": eta, "steps": steps, "t0": t0, "seed": 1234, "cfg": cfg},
                 title=title)
    return s.wire(node, model=model, latent=latent, positive=pos, negative=neg, mask=mask)


def wf_img2img(s):
    d = Demo(s, "# SDE vs ODE image-to-image (SDEdit)\nBoth noise the input to t0 with the SAME seeded draw and "
                "denoise over the same sigmas with the prompt 'blue disc': eta 1 is the SDE (DDPM), eta 0 the ODE "
                "(DDIM). They differ only in the sampler.")
    blue = s.add("CLIPTextEncode", 1, {"text": "blue disc"}, title="Edit prompt")
    s.connect(d.loader, 1, blue, "clip")
    for eta, name in ((1.0, "sde"), (0.0, "ode")):
        node = fresh(s, (d.loader, 0), (d.enc, 0), (blue, 0), (d.neg, 0), eta, 2,
                     f"{name.upper()} img2img (eta {eta:g})", 0.5)
        decode_and_save(s, d.vae, node, 0, 3, f"sde_drag/img2img_{name}")


def wf_inpaint(s):
    d = Demo(s, "# SDE vs ODE inpainting\nThe case's mask is regenerated from pure noise (t0 = 1) with the prompt; "
                "outside the mask every step takes the original noised to that level, so it is kept exactly. "
                "Same seed for both samplers.")
    for eta, name in ((1.0, "sde"), (0.0, "ode")):
        node = fresh(s, (d.loader, 0), (d.enc, 0), (d.pos, 0), (d.neg, 0), eta, 2,
                     f"{name.upper()} inpainting (eta {eta:g})", 1.0, mask=(d.case, 1))
        decode_and_save(s, d.vae, node, 0, 3, f"sde_drag/inpaint_{name}")


def wf_lora(s):
    d = Demo(s, "# SDE-Drag with identity LoRA\nIdentity LoRA (peft) fine-tunes a rank-4 LoRA on the input picture "
                "(paper: 100 steps), so the dragged object keeps its look. During the drag the LoRA scale ramps "
                "with a cosine from lora_scale_min at t0 to 1 near the picture. Skip it when the edit merely "
                "reproduces the original (overfitting).")
    lora = s.add("SDEDragIdentityLoRA", 2, {"rank": 4, "steps": 100, "learning_rate": 2e-4, "seed": 1234})
    s.wire(lora, model=(d.loader, 0), positive=(d.pos, 0), latent=(d.enc, 0))
    node = drag_node(s, (lora, 0), (d.pos, 0), (d.neg, 0), (d.enc, 0), (d.case, 2), (d.case, 1), 3, DRAG,
                     lora_scale_min=0.5)
    decode_and_save(s, d.vae, node, 0, 4, "sde_drag/lora_result")
    decode_and_save(s, d.vae, node, 1, 4, "sde_drag/lora_trajectory", animated=True)


def wf_diffedit(s):
    d = Demo(s, "# DiffEdit-SDE vs DiffEdit-ODE\nDiffEdit Mask finds where 'red disc' and 'blue disc' disagree. "
                "ODE: DDIM inversion with the source prompt, masked DDIM with the target. SDE: Cycle-SDE inversion, "
                "masked Cycle-SDE denoising with the target prompt on the edited branch and the source prompt on "
                "the recorded one (paper: t0 0.7, cfg 7.5, 50 steps).")
    target = s.add("CLIPTextEncode", 1, {"text": "blue disc"}, title="Target prompt")
    s.connect(d.loader, 1, target, "clip")
    mask = s.add("SDEDragDiffEditMask", 2, {"strength": 0.5, "noises": 10, "threshold": 0.5, "blur": 1.0,
                                            "seed": 1234})
    s.wire(mask, model=(d.loader, 0), latent=(d.enc, 0), source=(d.pos, 0), target=(target, 0))
    inv = d.stochastic_inversion(3, 0.7)
    ode_inv = s.add("SDEDragODEInversion", 3, {"steps": 50, "t0": 0.7})
    s.wire(ode_inv, model=(d.loader, 0), positive=(d.pos, 0), latent=(d.enc, 0))
    sde = s.add("SDEDragCycleDenoise", 4, {"cfg": 5.0}, title="DiffEdit-SDE")
    s.wire(sde, model=(d.loader, 0), latent=(inv, 0), trajectory=(inv, 1), positive=(target, 0), negative=(d.neg, 0),
           mask=(mask, 0), recorded_positive=(d.pos, 0))
    ode = s.add("SDEDragODEDenoise", 4, {"cfg": 5.0}, title="DiffEdit-ODE")
    s.wire(ode, model=(d.loader, 0), latent=(ode_inv, 0), trajectory=(ode_inv, 1), positive=(target, 0),
           negative=(d.neg, 0), mask=(mask, 0))
    decode_and_save(s, d.vae, sde, 0, 5, "sde_drag/diffedit_sde")
    decode_and_save(s, d.vae, ode, 0, 5, "sde_drag/diffedit_ode")


def wf_reconstruction(s):
    d = Demo(s, "# Cycle-SDE gives the input back\nStochastic Inversion then SDE Denoise with no edit: the latent "
                "comes back exactly (the recorded noise retraces the path). The decoded picture equals the VAE's own "
                "reconstruction.")
    inv = d.stochastic_inversion(2, 0.6)
    den = s.add("SDEDragCycleDenoise", 2, {"cfg": 3.0})
    s.wire(den, model=(d.loader, 0), latent=(inv, 0), trajectory=(inv, 1), positive=(d.pos, 0), negative=(d.neg, 0))
    decode_and_save(s, d.vae, den, 0, 3, "sde_drag/reconstruction")
    decode_and_save(s, d.vae, d.enc, 0, 3, "sde_drag/vae_only")


def wf_composable(s):
    d = Demo(s, "# SDE-Drag built from its parts\nStochastic Inversion records the noise up to t0, Latent Copy-Paste "
                "Drag moves the patch, SDE Denoise (Cycle-SDE) denoises with the recorded noise inside the mask. "
                "This is one sub-drag; the all-in-one SDE Drag node repeats it in small steps.")
    inv = d.stochastic_inversion(2, DRAG["t0"])
    paste = s.add("SDEDragCopyPaste", 2, {**{k: DRAG[k] for k in ("r", "alpha", "beta")}, "seed": 1234})
    s.wire(paste, latent=(inv, 0), trajectory=(inv, 1), drag_points=(d.case, 2))
    den = s.add("SDEDragCycleDenoise", 3, {"cfg": 3.0, "cfg_ramp": "linear from 1 (paper)"})
    s.wire(den, model=(d.loader, 0), latent=(paste, 0), trajectory=(inv, 1), positive=(d.pos, 0), negative=(d.neg, 0),
           mask=(d.case, 1))
    decode_and_save(s, d.vae, den, 0, 4, "sde_drag/composable")


# ---- real-checkpoint templates ----

class Real:
    """A real checkpoint's front: its loaders, the picture with the mask painted in (Load Image's MASK), one
    resize of both to the model's size, the prompts and VAE Encode, each step in a titled group (columns 0-3)."""

    def __init__(self, s: Sheet, note: str, family: str, prompt: str, size: tuple, negative: str | None = "blurry"):
        self.s, self.size = s, size
        s.add("MarkdownNote", 0, {"text": note + "\n\n" + LICENCES["flux" if family.startswith("flux") else family]
                                  + "\n\n" + REAL_NOTE})
        if family == "flux":
            unet = s.add("UNETLoader", 0, {"unet_name": "flux1-dev.safetensors"},
                         properties={"models": [model_info("flux1-dev.safetensors")]})
            clip = s.add("DualCLIPLoader", 0, {"clip_name1": "clip_l.safetensors",
                                               "clip_name2": "t5xxl_fp16.safetensors", "type": "flux"},
                         properties={"models": [model_info("clip_l.safetensors"),
                                                model_info("t5xxl_fp16.safetensors")]})
            vae = s.add("VAELoader", 0, {"vae_name": "ae.safetensors"},
                        properties={"models": [model_info("ae.safetensors")]})
            self.model, self.clip, self.vae = (unet, 0), (clip, 0), (vae, 0)
        else:
            name = {"sd15": SD15_FILE, "sdxl": SDXL_FILE, "flux_fp8": FLUX_FP8_FILE}[family]
            ckpt = s.add("CheckpointLoaderSimple", 0, {"ckpt_name": name}, properties={"models": [model_info(name)]})
            self.model, self.clip, self.vae = (ckpt, 0), (ckpt, 1), (ckpt, 2)
        s.group(0, "1. The model")
        picture = s.add("LoadImage", 1, {"image": PICTURE}, title="Your picture (right-click > Open in MaskEditor)")
        s.add("MarkdownNote", 1, {"text": PAINT}, size=[320, 200])
        s.group(1, "2. Your picture and its mask")
        # One size for picture and mask: ImageScale on both (the mask through an image), the same crop.
        width, height = size
        self.image = s.add("ImageScale", 2, {"upscale_method": "lanczos", "width": width, "height": height,
                                             "crop": "center"}, title="Resize the picture")
        s.connect(picture, 0, self.image, "image")
        as_image = s.add("MaskToImage", 2)
        s.connect(picture, 1, as_image, "mask")
        scaled = s.add("ImageScale", 2, {"upscale_method": "bilinear", "width": width, "height": height,
                                         "crop": "center"}, title="Resize the mask (same size)")
        s.connect(as_image, 0, scaled, "image")
        self.mask = s.add("ImageToMask", 2, {"channel": "red"})
        s.connect(scaled, 0, self.mask, "image")
        s.group(2, f"3. Resize to {width}x{height}")
        pos = s.add("CLIPTextEncode", 3, {"text": prompt}, title="Prompt (describe the result)")
        s.connect(*self.clip, pos, "clip")
        self.pos = (pos, 0)
        if family.startswith("flux"):
            guided = s.add("FluxGuidance", 3, {"guidance": 3.5})
            s.connect(pos, 0, guided, "conditioning")
            self.pos, self.neg = (guided, 0), None
        else:
            neg = s.add("CLIPTextEncode", 3, {"text": negative}, title="Negative")
            s.connect(*self.clip, neg, "clip")
            self.neg = (neg, 0)
        enc = s.add("VAEEncode", 3)
        s.connect(self.image, 0, enc, "pixels")
        s.connect(*self.vae, enc, "vae")
        self.latent = (enc, 0)
        s.group(3, "4. Prompt and encode")

    def points(self, column):
        """Drag Points on the resized picture, with the spoon's drag scaled to it."""
        pairs = [[list(resized_point(p, PICTURE_SIZE, self.size)) for p in pair] for pair in SPOON_DRAG]
        example = {"points": pairs, "width": self.size[0], "height": self.size[1]}
        points = self.s.add("SDEDragPoints", column, {"points": json.dumps(example)},
                            title="Drag Points (click source, then target)")
        self.s.connect(self.image, 0, points, "image")
        return (points, 0)


SD15_SIZE, LARGE_SIZE = (768, 512), (1024, 1024)  # SD1.5: the photograph's 3:2; SDXL/Flux: its centre square


def resized_point(point, source: tuple, target: tuple) -> tuple:
    """Where a pixel of a `source`-sized picture lands after ImageScale to `target` with crop "center"
    (ComfyUI crops the source to the target's aspect, centred, then scales)."""
    (sw, sh), (tw, th) = source, target
    if sw * th > tw * sh:  # wider than the target: its sides are cropped
        kept_w, kept_h = sh * tw / th, sh
    else:
        kept_w, kept_h = sw, sw * th / tw
    x0, y0 = (sw - kept_w) / 2, (sh - kept_h) / 2
    return round((point[0] - x0) * tw / kept_w), round((point[1] - y0) * th / kept_h)
PAINT = ("**The mask** is the picture's own: white in MaskEditor = may change. The example photograph comes with "
         "one painted around the spoon and the room it moves into, and its points drag the spoon to the right. For "
         "your picture: load it, right-click > Open in MaskEditor, paint what may move and where it goes, save; "
         "then click new points. No mask painted = an error naming the fix (disconnect the mask to edit "
         "everywhere). Set the resize to your picture's shape.")


def drag_template(s, r: Real, presets, prefix, model=None, **extra):
    node = drag_node(s, model or r.model, r.pos, r.neg, r.latent, r.points(4), (r.mask, 0), 5, presets, **extra)
    s.group((4, 5), "5. Points and the drag")
    decode_and_save(s, r.vae, node, 0, 6, prefix + "/result")
    decode_and_save(s, r.vae, node, 1, 6, prefix + "/trajectory", animated=True)
    s.group((6, 7), "6. Decode and save")


def wf_sd15_drag(s):
    r = Real(s, "# SDE-Drag on SD1.5, the paper's presets\nPress Run: the example photograph's spoon moves right. Then "
                "load your own picture in 'Your picture', paint its mask, click a source and its target in 'Drag "
                "Points'. Presets as the paper: steps 200, t0 0.6, cfg 3 (ramped from 1), step_size 2 and r 5 (64ths of the "
                "picture's short side: 16 and 40 px here), alpha 1.1, beta 0.3.", "sd15", "a spoon beside a cup of coffee", SD15_SIZE)
    drag_template(s, r, PAPER, "sde_drag_sd15")


def wf_sd15_fast(s):
    r = Real(s, "# SDE-Drag on SD1.5, fast preset\nThe paper's presets with 25 steps instead of 200: an eighth of "
                "the model calls. Measured in pre-registered runs (docs/findings-switch.md): no worse than the paper "
                "preset on placement and realism, on a model with an exact score (64x64 latent, the paper's r 5; "
                "N = 600) and on the demo model (N = 320); untested on real weights. Press Run: the example photograph's spoon moves "
                "right; then load your own picture and click new points.", "sd15", "a spoon beside a cup of coffee",
             SD15_SIZE)
    drag_template(s, r, FAST, "sde_drag_sd15_fast")


def wf_sd15_lora(s):
    r = Real(s, "# SDE-Drag with identity LoRA on SD1.5\nIdentity LoRA fine-tunes a rank-4 LoRA on your picture "
                "(100 steps, lr 2e-4, the paper's defaults) before the drag, so the dragged object keeps its look; "
                "its scale ramps from lora_scale_min 0.5 at t0 to 1. Skip it (bypass the node) when the result only "
                "reproduces the original. Training needs roughly 8-10 GB of GPU memory at 512x512.", "sd15",
             "a spoon beside a cup of coffee", SD15_SIZE)
    lora = s.add("SDEDragIdentityLoRA", 4, {"rank": 4, "steps": 100, "learning_rate": 2e-4, "seed": 1234})
    s.wire(lora, model=r.model, positive=r.pos, latent=r.latent)
    drag_template(s, r, PAPER, "sde_drag_sd15_lora", model=(lora, 0), lora_scale_min=0.5)


def wf_sd15_img2img_inpaint(s):
    r = Real(s, "# SDE vs ODE image-to-image and inpainting on SD1.5\nTop: SDEdit from t0 0.5 with the prompt, "
                "eta 1 (SDE) vs eta 0 (ODE). Bottom: the mask's region regenerated from pure noise (t0 1); outside "
                "it the picture is kept exactly. Same seed, steps (50, as the paper's scripts) and cfg for both "
                "samplers: they differ only in eta.", "sd15", "a cup of coffee on a wooden table", SD15_SIZE)
    for eta, name in ((1.0, "sde"), (0.0, "ode")):
        node = fresh(s, r.model, r.latent, r.pos, r.neg, eta, 4, f"{name.upper()} img2img (eta {eta:g})", 0.5,
                     cfg=7.5)
        decode_and_save(s, r.vae, node, 0, 5, f"sde_drag_sd15/img2img_{name}")
    for eta, name in ((1.0, "sde"), (0.0, "ode")):
        node = fresh(s, r.model, r.latent, r.pos, r.neg, eta, 4, f"{name.upper()} inpainting (eta {eta:g})", 1.0,
                     cfg=7.5, mask=(r.mask, 0))
        decode_and_save(s, r.vae, node, 0, 5, f"sde_drag_sd15/inpaint_{name}")
    s.group(4, "5. SDE and ODE, same seed")
    s.group((5, 6), "6. Decode and save")


LARGE_NOTE = ("r and step_size count 64ths of the picture's short side, so the paper's step_size 2 and r 5 are 32 "
              "and 80 px here, the same share of the picture as on SD1.5. The example is the photograph's centre square, scaled up "
              "(soft): use a sharp picture of your own at this size.")


def wf_sdxl_drag(s):
    r = Real(s, "# SDE-Drag on SDXL at 1024x1024\nPress Run: the example photograph's spoon moves right. steps 200, "
                "t0 0.6, cfg 3 as the paper. " + LARGE_NOTE, "sdxl", "a spoon beside a cup of coffee", LARGE_SIZE)
    drag_template(s, r, LARGE, "sde_drag_sdxl")


FLUX_NOTE = ("Flux dev is guidance-distilled: FluxGuidance 3.5 sets the guidance and the drag's cfg is 1 (one model "
             "call per step, no negative prompt). On a flow model t0 is the same fraction of its flow schedule. "
             "Lower steps to 100 for speed. ")


def wf_flux_drag(s):
    r = Real(s, "# SDE-Drag on Flux dev (rectified flow)\nFlux's loaders as ComfyUI's own Flux template: Load "
                "Diffusion Model flux1-dev, DualCLIPLoader (clip_l + t5xxl_fp16, type flux), Load VAE ae (about 32 GB "
                "of files; for smaller cards open template 17, the single fp8 checkpoint). " + FLUX_NOTE + LARGE_NOTE,
             "flux", "a spoon beside a cup of coffee", LARGE_SIZE)
    drag_template(s, r, {**LARGE, "cfg": 1.0}, "sde_drag_flux")


def wf_flux_fp8_drag(s):
    r = Real(s, "# SDE-Drag on Flux dev fp8 (one checkpoint, smaller cards)\nComfyUI's single-file Flux dev fp8 "
                "checkpoint (about 17 GB: diffusion model and T5 in fp8, clip_l, VAE) through Load Checkpoint, as "
                "ComfyUI's own fp8 Flux example loads it; it needs less memory than template 15's files. "
                + FLUX_NOTE + LARGE_NOTE, "flux_fp8", "a spoon beside a cup of coffee", LARGE_SIZE)
    drag_template(s, r, {**LARGE, "cfg": 1.0}, "sde_drag_flux_fp8")


DEMO_WORKFLOWS = {
    "01 Demo - SDE-Drag - click points on the picture": wf_sde_drag,
    "02 Demo - SDE-Drag vs ODE-Drag": wf_drag_vs_ode,
    "03 Demo - SDE vs ODE image-to-image": wf_img2img,
    "04 Demo - SDE vs ODE inpainting": wf_inpaint,
    "05 Demo - SDE-Drag with identity LoRA": wf_lora,
    "06 Demo - DiffEdit SDE vs ODE": wf_diffedit,
    "07 Demo - Cycle-SDE gives the input back": wf_reconstruction,
    "08 Demo - SDE-Drag built from its parts": wf_composable,
}
REAL_WORKFLOWS = {
    "11 SD1.5 - SDE-Drag with the paper presets": wf_sd15_drag,
    "12 SD1.5 - SDE-Drag with identity LoRA": wf_sd15_lora,
    "13 SD1.5 - SDE vs ODE image-to-image and inpainting": wf_sd15_img2img_inpaint,
    "14 SDXL - SDE-Drag at 1024x1024": wf_sdxl_drag,
    "15 Flux dev - SDE-Drag on a rectified-flow model": wf_flux_drag,
    "16 SD1.5 - SDE-Drag fast preset": wf_sd15_fast,
    "17 Flux dev fp8 - SDE-Drag on smaller cards": wf_flux_fp8_drag,
}
WORKFLOWS = {**DEMO_WORKFLOWS, **REAL_WORKFLOWS}


def build(name, node_classes, sizes=None):
    from workflow_api import WorkflowBuilder

    sheet = Sheet(WorkflowBuilder(node_classes), drawn_sizes() if sizes is None else sizes)
    WORKFLOWS[name](sheet)
    sheet.place()
    return sheet.b


def node_types_used() -> set[str]:
    """Every node type the templates use (what scripts/measure_node_sizes.py measures)."""
    import repo_path  # noqa: F401  (the repository root)
    from harness.comfy_host import ComfyHost

    ComfyHost()
    import nodes

    return {n["type"] for name in WORKFLOWS for n in build(name, nodes.NODE_CLASS_MAPPINGS, {}).nodes}


def build_all(node_classes, only=None):
    os.makedirs(OUT, exist_ok=True)
    written = []
    for name in WORKFLOWS:
        if only and name not in only:
            continue
        path = os.path.join(OUT, name + ".json")
        build(name, node_classes).save(path)
        written.append(path)
    return written


if __name__ == "__main__":
    import repo_path  # noqa: F401  (the repository root)
    from harness.comfy_host import ComfyHost

    host = ComfyHost()
    import nodes

    for path in build_all(nodes.NODE_CLASS_MAPPINGS):
        print("wrote", os.path.relpath(path, ROOT))
