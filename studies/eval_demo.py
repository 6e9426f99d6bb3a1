"""SDE vs ODE on the embedded demo model: the paper's claim measured on a model anyone can run.

    .venv/bin/python -m studies.eval_demo [--n 200] [--quick] [--out PATH] [--threads 1]

Boots the pinned ComfyUI in-process (harness/comfy_host.py), loads the demo model with the
pack's loader and calls the pack's nodes as ComfyUI loaded them. SDE and ODE always share
steps, t0, cfg, seeds, prompts, masks and inputs:

1. Drag: N = 200 seeded scenes, the object dragged 10-16 px in a random direction (staying
   inside the image), prompt = the scene's prompt, mask = the box around both positions
   (+4 px); `SDE Drag` node with method sde vs ode at two t0, the demo presets of
   nodes/presets.py (steps 50, cfg 3, r 3, step_size 2, alpha 1.1, beta 0.3), case i with
   sampler seed 2100 + i for both methods.

   The measures, declared before the runs (they were fixed, with this text, before any
   figure of the N = 200 run was seen; `drag_trials.py` computes them):
   - ground truth: the scene is rendered again with its object at the target ("true moved
     scene"); L1 between result and true moved scene over the edited region (the mask),
     against the raw render (`gt_l1`) and against its autoencoder reconstruction
     (`gt_l1_ae`, the primary measure: what a perfect drag can reach through this decoder);
   - drag accuracy index (GoodDrag's DAI): mean squared difference between the result's
     patch at the target and the input's patch at the source, half-widths 1, 4 and 8 px
     (`dai_4` reported with its interval);
   - realism: a classifier two-sample test (logistic regression on the top 8 principal
     components of the demo encoder's mean latents and their squares, 10-fold cross-
     validated, results vs fresh scenes: 50 % = indistinguishable, with its binomial p),
     the best IoU of the object with an ideal disc/square/triangle (`shape_iou`), and the
     Frechet distance of the encoder latents (kept for continuity; it cannot separate
     methods at this N);
   - the earlier task measures: centroid error to the target (px), share of the object left
     at the source, area ratio, background PSNR away from both positions against the AE
     reconstruction of the input, identity kept (colour and shape class), and success
     (error < 4 px, < 20 % left, identity kept);
   - paired, case by case: sign tests of success and shape kept over the discordant cases,
     sign tests of which method is lower on centroid error, `gt_l1_ae` and `dai_4`, and
     the mean SDE - ODE difference with a 95 % bootstrap interval.
   Every case's row is in the JSON (`drag.per_case`).

   Added later (issue 28 item 4), after the runs above: the realism tests' controls. Positive:
   each case's input with the drag's square (r cells = 12 px half-width) pasted from source to
   target hard-edged, nothing redrawn (a test that cannot see this cannot vouch for a result);
   null: other fresh scenes through the AE. The declared C2ST missed the positive control, so
   the same test on translation-invariant local statistics of the latents (`c2st_local`,
   `eval_measures.local_statistics`) is reported beside it for every row.
2. Image-to-image (SDEdit): guides = fresh scenes with the object corrupted (a flat colour
   blob, or a hue shift); `SDE/ODE Img2Img & Inpaint` with eta 1 vs 0, same t0 and seed;
   realism (Frechet distance, results vs fresh scenes; the SDE - ODE gap with a 95 % paired
   bootstrap interval over cases, `eval_measures.frechet_gap`) and faithfulness (L2 to the
   guide at 1/4 resolution).
3. Inpainting: square masks of ~20 % and ~40 % of the image covering part of the object,
   t0 = 1, SDE vs ODE at 25 and 50 steps; realism (the Frechet gap with its interval, as for
   image-to-image) and whether the completed object is one connected shape.

Prints Markdown tables and writes benchmarks/results/eval_demo.json (command, N, steps,
t0, cfg, seeds and every figure, per case for the drags).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shlex
import sys
import time

import numpy as np

from studies import drag_trials as trials
from studies import eval_measures as em
from studies.eval_measures import metrics, scenes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "eval_demo.json")
QUICK_OUT = os.path.join(ROOT, "benchmarks", "results", "quick", "eval_demo.json")  # git-ignored: never the full run
DRAG_PRESET = {k: v for k, v in trials.PRESETS.DEMO.items() if k != "t0"}  # the demo presets (nodes/presets.py)
SEEDS = {"drag_scenes": 1100, "drag_sampler": 2100, "fresh_scenes": 3100, "i2i_guides": 4100, "i2i_sampler": 5100,
         "inpaint_scenes": 6100, "inpaint_sampler": 7100, "shape_classifier": 8100, "c2st": 9100,
         "frechet_gap_bootstrap": 9200}
N_SHAPE_TRAIN = 300
C2ST_DIMS = 8
FAR_PX = 8  # the kept region's PSNR is measured this far from the mask (the decoder mixes across it)
INPAINT_SIDES = {"small": 28, "large": 40}  # 28x28 px = 19 % of 64x64, 40x40 px = 39 %
PASTED = "pasted square, unblended (AE)"  # the realism tests' positive control (a reference row of the drag)
PASTE_HALF_PX = 4 * DRAG_PRESET["r"]  # the drag's copied square: r latent cells, 4 px each
N_BOOT = 1000
GAP_TEXT = ("Frechet SDE - Frechet ODE (both to the fresh scenes) on the same cases, 95 % paired percentile bootstrap "
            f"interval over cases ({N_BOOT} resamples of the case indices, shared by both methods, and of the fresh "
            "scenes; eval_measures.frechet_gap)")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=None, help="drag cases (default 200; 4 with --quick)")
    ap.add_argument("--n-i2i", type=int, default=None, help="image-to-image guides (default 256; 16 with --quick)")
    ap.add_argument("--n-inpaint", type=int, default=None, help="inpainting scenes per mask size (default 64; 8 with --quick)")
    ap.add_argument("--t0", type=float, nargs="+", default=[0.4, 0.6], help="drag t0 values (default 0.4 0.6)")
    ap.add_argument("--i2i-t0", type=float, default=0.5, help="image-to-image t0 (default 0.5)")
    ap.add_argument("--inpaint-steps", type=int, nargs="+", default=[25, 50])
    ap.add_argument("--quick", action="store_true", help="a smoke run (~1 minute): small N")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: the figures do not depend on the machine's core count, and "
                         "the tiny model gains little from more)")
    ap.add_argument("--out", default=None, help="the JSON to write (default benchmarks/results/eval_demo.json; "
                                                "with --quick benchmarks/results/quick/eval_demo.json)")
    ap.add_argument("--weights", default=None, help="a demo model's weights folder (default demo/weights)")
    ap.add_argument("--images", default=None, help="also write a PNG sheet of the first drag cases per method here")
    args = ap.parse_args(argv)
    args.out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    args.n = args.n or (4 if args.quick else 200)
    args.n_i2i = args.n_i2i or (16 if args.quick else 256)
    args.n_inpaint = args.n_inpaint or (8 if args.quick else 64)
    return args


# --------------------------------------------------------------------------- ComfyUI side


class Demo:
    """The demo model as ComfyUI objects, the pack's nodes, and batched encode/decode."""

    def __init__(self, weights_dir: str | None = None, host=None):
        from harness.comfy_host import ComfyHost

        self.host = host or ComfyHost()  # a test passes the session's host: ComfyUI boots once per process
        import torch

        self.torch = torch
        self.model, self.clip, self.vae = self.host.module("demo.model").load_demo_model(weights_dir)
        self.drag_node = self.host.module("nodes.drag").SDEDragAllInOne()
        self.fresh_node = self.host.module("nodes.fresh_denoise").SDEDragFreshDenoise()
        self.parse_points = self.host.module("nodes.points_format").parse_drag_points
        self.counter = {"calls": 0, "rows": 0}

        self.counted = self.counting(self.model)
        self._conds = {}

    def counting(self, model):
        """A clone of `model` whose UNet calls and rows are added to `self.counter`."""
        def count(apply_model, args):
            self.counter["calls"] += 1
            self.counter["rows"] += int(args["input"].shape[0])
            return apply_model(args["input"], args["timestep"], **args["c"])

        counted = model.clone()
        counted.set_model_unet_function_wrapper(count)
        return counted

    def reset_count(self):
        self.counter.update(calls=0, rows=0)

    def cond(self, text: str):
        if text not in self._conds:
            with self.torch.no_grad():  # the text encoder's weights may be inference tensors (see encode)
                self._conds[text] = self.clip.encode_from_tokens_scheduled(self.clip.tokenize(text))
        return self._conds[text]

    def cond_batch(self, texts):
        """One CONDITIONING whose cross-attention batch is one prompt per latent of the batch."""
        conds = [self.cond(t)[0] for t in texts]
        ctx = self.torch.cat([c[0] for c in conds])
        pooled = self.torch.cat([c[1]["pooled_output"] for c in conds])
        return [[ctx, {"pooled_output": pooled}]]

    def encode(self, images: np.ndarray, chunk: int = 128):
        t = self.torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        # no autograd: the VAE may have been loaded inside ComfyUI's executor (inference tensors), and a
        # call with autograd on would then fail depending on which test loaded it first
        with self.torch.no_grad():
            out = [self.vae.encode(t[i:i + chunk]) for i in range(0, len(t), chunk)]
        return self.torch.cat(out).detach().float()

    def decode(self, latents, chunk: int = 128) -> np.ndarray:
        with self.torch.no_grad():
            out = [self.vae.decode(latents[i:i + chunk]) for i in range(0, len(latents), chunk)]
        return self.torch.cat(out).reshape(-1, scenes.IMAGE_SIZE, scenes.IMAGE_SIZE, 3).detach().float().clamp(0, 1).numpy()

    def features(self, images: np.ndarray) -> np.ndarray:
        """The demo encoder's mean latents, flattened (16 x 16 x 4 = 1024 values per image)."""
        return self.encode(images).flatten(1).double().numpy()

    def realism_features(self, images: np.ndarray) -> dict:
        """Both feature sets of the realism tests from one encoding: "flat", the flattened mean
        latents (`features`), and "local", their local statistics (`em.local_statistics`)."""
        latents = self.encode(images).double().numpy()
        return {"flat": latents.reshape(len(latents), -1), "local": em.local_statistics(latents)}

    def roundtrip(self, images: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(images))


# --------------------------------------------------------------------------- summaries


def mean(xs):
    xs = [float(x) for x in xs]
    return float(np.mean(xs)) if xs else float("nan")


def far_outside(masks: np.ndarray, px: int) -> np.ndarray:
    """Pixels more than `px` (Chebyshev distance) from every masked pixel."""
    near = masks.astype(bool).copy()
    for _ in range(px):
        grown = near.copy()
        grown[:, 1:] |= near[:, :-1]
        grown[:, :-1] |= near[:, 1:]
        grown[:, :, 1:] |= near[:, :, :-1]
        grown[:, :, :-1] |= near[:, :, 1:]
        near = grown
    return ~near


# --------------------------------------------------------------------------- the three parts


def write_sheet(folder: str, columns: dict, cases: list[dict], rows: int = 12, k: int = 3):
    """drag_sheet.png: one row per case (source red, target blue), one column per method."""
    from PIL import Image, ImageDraw

    os.makedirs(folder, exist_ok=True)
    n, size = min(rows, len(cases)), scenes.IMAGE_SIZE * k
    sheet = Image.new("RGB", (size * len(columns), size * n + 14), (30, 30, 30))
    draw = ImageDraw.Draw(sheet)
    for j, (name, imgs) in enumerate(columns.items()):
        draw.text((j * size + 3, 1), name, fill=(255, 255, 255))
        for i in range(n):
            tile = Image.fromarray((np.clip(imgs[i], 0, 1) * 255).round().astype(np.uint8)).resize((size, size), Image.NEAREST)
            sheet.paste(tile, (j * size, 14 + i * size))
            for (x, y), colour in ((cases[i]["source"], (255, 60, 60)), (cases[i]["target"], (60, 120, 255))):
                draw.ellipse([j * size + x * k - 2, 14 + i * size + y * k - 2, j * size + x * k + 2, 14 + i * size + y * k + 2],
                             fill=colour)
    sheet.save(os.path.join(folder, "drag_sheet.png"))


def train_shape_classifier(demo: Demo) -> em.ShapeClassifier:
    """The shape classifier, trained on fresh scenes passed through the demo autoencoder."""
    images, metas = scenes.generate_batch(SEEDS["shape_classifier"], N_SHAPE_TRAIN, with_meta=True)
    recon = demo.roundtrip(images.permute(0, 2, 3, 1).numpy())
    feats = [em.shape_features(em.object_shape_mask(img, m["colour"])) for img, m in zip(recon, metas)]
    return em.ShapeClassifier().fit(np.stack(feats), [m["shape"] for m in metas])


def pasted_squares(demo: Demo, cases: list[dict]) -> np.ndarray:
    """The positive control's images: each case's input with the drag's square (r latent cells of
    4 px around the source) pasted over the target, hard-edged, then through the AE as results are."""
    return demo.roundtrip(np.stack([em.paste_unblended(c["image"], c["source"], c["target"], PASTE_HALF_PX)
                                    for c in cases]))


def two_sample_tests(feats: dict, fresh: dict) -> dict:
    """Both realism tests of one set of images against the fresh scenes: `c2st` on the flattened
    latents (the declared test) and on their local statistics."""
    return {"c2st": em.c2st(feats["flat"], fresh["flat"], seed=SEEDS["c2st"], dims=C2ST_DIMS),
            "c2st_local": em.c2st(feats["local"], fresh["local"], seed=SEEDS["c2st"], dims=C2ST_DIMS)}


def run_drag(demo: Demo, args, fresh_all: dict, null_all: dict) -> dict:
    torch = demo.torch
    classifier = train_shape_classifier(demo)
    dragset = trials.DragSet(demo, SEEDS["drag_scenes"], args.n)
    cases, recon = dragset.cases, dragset.recon
    fresh = {k: v[: args.n] for k, v in fresh_all.items()}
    methods, per_case, sheet = {}, {}, {"input (AE)": recon, "true moved (AE)": dragset.moved_recon}

    def realism(imgs):
        feats = demo.realism_features(imgs)
        tests = two_sample_tests(feats, fresh)
        return tests["c2st"], em.frechet_distance(feats["flat"], fresh["flat"]), tests["c2st_local"]

    # The positive control: the drag's square (r latent cells, 4 px each) pasted from source to
    # target in pixels, nothing redrawn. A realism test that cannot tell this from fresh scenes
    # cannot vouch for a drag result's realism either.
    half = PASTE_HALF_PX
    pasted = pasted_squares(demo, cases)
    # references: the input unchanged, the true moved scene and the unblended paste, all through the autoencoder
    for name, imgs in (("input, no edit (AE)", recon), ("true moved scene (AE)", dragset.moved_recon),
                       (PASTED, pasted)):
        rows = trials.measure(imgs, dragset, classifier)
        c2st, fd, local = realism(imgs)
        methods[name] = {"t0": None, "method": "reference", **trials.summarise(rows, c2st, fd), "c2st_local": local}
        per_case[name] = rows
    controls = {
        "what": "the two-sample tests on a set they must detect and on one they must not, at the drag's N",
        "positive": {"what": f"each drag case's input with the {2 * half + 1} px square around its source pasted "
                             "over the square around its target, hard-edged, nothing redrawn, through the AE",
                     "half_px": half, "c2st": methods[PASTED]["c2st"], "c2st_local": methods[PASTED]["c2st_local"]},
        "null": {"what": f"other fresh scenes (seed {SEEDS['fresh_scenes'] + 1}) through the AE",
                 **two_sample_tests({k: v[: args.n] for k, v in null_all.items()}, fresh)},
    }
    methods["input, no edit (AE)"]["background_psnr_db"] = None  # it is the reference itself
    checks = [em.identity(img, c["source"], c["extent"], classifier) for img, c in zip(recon, cases)]
    classifier_check = {
        "what": "identity (colour and shape class) of the AE reconstruction of each input, at its source (held out)",
        "colour_accuracy": mean(k["colour"] == c["colour"] for k, c in zip(checks, cases)),
        "shape_accuracy": mean(k["shape"] == c["shape"] for k, c in zip(checks, cases)),
        "shape_classifier": {"trained_on": f"{N_SHAPE_TRAIN} scenes (seed {SEEDS['shape_classifier']}) through the AE",
                             "features": "IoU with the best disc/square/triangle, moment of inertia, fill ratio",
                             **classifier.to_json()}}
    for t0 in args.t0:
        for method in ("sde", "ode"):
            name = f"{method.upper()}-Drag t0 {t0:g}"
            results, cost = trials.run_setting(demo, dragset, method, {**DRAG_PRESET, "t0": t0}, SEEDS["drag_sampler"])
            rows = trials.measure(results, dragset, classifier)
            sheet[name] = results
            c2st, fd, local = realism(results)
            methods[name] = {"t0": t0, "method": method, **trials.summarise(rows, c2st, fd), **cost, "c2st_local": local}
            per_case[name] = rows
            print(f"  {name}: {cost['seconds_per_case'] * len(cases):.0f} s", file=sys.stderr, flush=True)
    if args.images:
        write_sheet(args.images, sheet, cases)
    paired = {f"{t0:g}": trials.paired(per_case[f"SDE-Drag t0 {t0:g}"], per_case[f"ODE-Drag t0 {t0:g}"])
              for t0 in args.t0}
    return {
        "n": len(cases), "preset": DRAG_PRESET, "t0": list(args.t0), "prompt": "the scene's prompt, e.g. 'red disc'",
        "negative": "", "mask": "box around the object at both positions + 4 px", "drag_px": [10, 16],
        "seeds": {"scenes": SEEDS["drag_scenes"], "sampler": f"{SEEDS['drag_sampler']} + case index",
                  "fresh_scenes": SEEDS["fresh_scenes"]},
        "success": dict(trials.SUCCESS, identity_kept=True), "identity_classifier": classifier_check,
        "realism": {"c2st": f"logistic regression on the top {C2ST_DIMS} principal components of the demo encoder's "
                            "mean latents and their squares, 10-fold cross-validated: results vs fresh scenes "
                            "(0.5 = indistinguishable)",
                    "c2st_local": "the same test on local statistics of those latents (per channel: mean, std, "
                                  "mean squared and maximum and 95th-percentile absolute horizontal and vertical "
                                  "differences; added after the declared test failed its positive control)",
                    "controls": controls},
        "methods": methods, "paired": paired, "cases": dragset.case_json(SEEDS["drag_sampler"]), "per_case": per_case,
    }


def run_img2img(demo: Demo, args, fresh_feats: np.ndarray) -> dict:
    torch = demo.torch
    n, steps, cfg, t0 = args.n_i2i, DRAG_PRESET["steps"], DRAG_PRESET["cfg"], args.i2i_t0
    guides, infos = em.guide_images(SEEDS["i2i_guides"], n)
    latents = demo.encode(guides)
    positive, negative = demo.cond_batch([i["prompt"] for i in infos]), demo.cond("")
    fresh = fresh_feats[:n]
    kinds = np.array([i["kind"] for i in infos])
    rows = {}
    for name, imgs in (("guides (no edit)", guides), ("guides (AE)", demo.decode(latents))):
        l2 = em.l2_quarter(imgs, guides)
        rows[name] = {"eta": None, "frechet": em.frechet_distance(demo.features(imgs), fresh), "l2_quarter": mean(l2),
                      **{f"l2_quarter_{k}": mean(l2[kinds == k]) for k in ("blob", "hue")}}
    feats = {}
    for eta, method in ((1.0, "SDE"), (0.0, "ODE")):
        demo.reset_count()
        start = time.perf_counter()
        with torch.no_grad():
            out, _ = demo.fresh_node.execute(demo.counted, {"samples": latents}, eta, steps, t0, SEEDS["i2i_sampler"],
                                             positive=positive, negative=negative, cfg=cfg)
        seconds = time.perf_counter() - start
        results = demo.decode(out["samples"])
        l2 = em.l2_quarter(results, guides)
        feats[method] = demo.features(results)
        rows[f"{method} (eta {eta:g})"] = {
            "eta": eta, "frechet": em.frechet_distance(feats[method], fresh), "l2_quarter": mean(l2),
            **{f"l2_quarter_{k}": mean(l2[kinds == k]) for k in ("blob", "hue")},
            "seconds": seconds, "unet_calls": demo.counter["calls"], "unet_rows": demo.counter["rows"]}
        print(f"  img2img {method}: {seconds:.0f} s", file=sys.stderr, flush=True)
    gap = em.frechet_gap(feats["SDE"], feats["ODE"], fresh, seed=SEEDS["frechet_gap_bootstrap"], n_boot=N_BOOT)
    return {"n": n, "steps": steps, "t0": t0, "cfg": cfg, "prompt": "the clean scene's prompt", "negative": "",
            "corruptions": "alternately: object -> flat disc blob of its base colour and equal area; object hue "
                           "rotated by 40-80 degrees", "seeds": {"guides": SEEDS["i2i_guides"], "sampler": SEEDS["i2i_sampler"],
                                                                 "fresh_scenes": SEEDS["fresh_scenes"]},
            "methods": rows, "frechet_gap": {"sde_minus_ode": gap, "what": GAP_TEXT}}


def run_inpaint(demo: Demo, args, fresh_feats: np.ndarray) -> dict:
    torch = demo.torch
    n, cfg = args.n_inpaint, DRAG_PRESET["cfg"]
    fresh = fresh_feats[:n]
    negative = demo.cond("")
    out = {"n": n, "t0": 1.0, "cfg": cfg, "steps": list(args.inpaint_steps), "prompt": "the scene's prompt",
           "negative": "", "seeds": {"scenes": SEEDS["inpaint_scenes"], "sampler": SEEDS["inpaint_sampler"],
                                     "fresh_scenes": SEEDS["fresh_scenes"]}, "masks": {}, "methods": {},
           "frechet_gaps_what": GAP_TEXT, "frechet_gaps": {}}
    for k, (size, side) in enumerate(INPAINT_SIDES.items()):
        images, masks, infos = em.inpaint_cases(SEEDS["inpaint_scenes"] + k, n, side)
        out["masks"][size] = {"side_px": side, "image_fraction": side * side / scenes.IMAGE_SIZE ** 2,
                              "object_covered": mean(i["covered"] for i in infos)}
        latents = demo.encode(images)
        positive = demo.cond_batch([i["prompt"] for i in infos])
        recon = demo.decode(latents)
        connected = [em.single_connected_shape(img, scenes.COLOURS[i["colour"]], i["area"]) for img, i in zip(recon, infos)]
        out["methods"][f"{size} mask: input (AE)"] = {
            "mask": size, "eta": None, "steps": None, "frechet": em.frechet_distance(demo.features(recon), fresh),
            "single_shape": mean(connected)}
        for steps in args.inpaint_steps:
            feats = {}
            for eta, method in ((1.0, "SDE"), (0.0, "ODE")):
                demo.reset_count()
                start = time.perf_counter()
                with torch.no_grad():
                    res, _ = demo.fresh_node.execute(demo.counted, {"samples": latents}, eta, steps, 1.0,
                                                     SEEDS["inpaint_sampler"] + k, positive=positive, negative=negative,
                                                     cfg=cfg, mask=torch.from_numpy(masks))
                seconds = time.perf_counter() - start
                results = demo.decode(res["samples"])
                connected = [em.single_connected_shape(img, scenes.COLOURS[i["colour"]], i["area"])
                             for img, i in zip(results, infos)]
                outside = far_outside(masks, FAR_PX)
                psnr_out = mean(metrics.psnr(r, a, o) for r, a, o in zip(results, recon, outside))
                keep = 1 - torch.nn.functional.interpolate(torch.from_numpy(masks)[:, None], size=latents.shape[-2:],
                                                           mode="area")
                kept_diff = float(((res["samples"] - latents).abs() * (keep >= 1)).max())
                feats[method] = demo.features(results)
                out["methods"][f"{size} mask: {method} {steps} steps"] = {
                    "mask": size, "eta": eta, "steps": steps,
                    "frechet": em.frechet_distance(feats[method], fresh), "single_shape": mean(connected),
                    "psnr_far_outside_mask_db": psnr_out, "kept_latent_max_abs_diff": kept_diff, "seconds": seconds, "unet_calls": demo.counter["calls"],
                    "unet_rows": demo.counter["rows"]}
                print(f"  inpaint {size} {method} {steps}: {seconds:.0f} s", file=sys.stderr, flush=True)
            out["frechet_gaps"][f"{size} mask, {steps} steps"] = em.frechet_gap(
                feats["SDE"], feats["ODE"], fresh, seed=SEEDS["frechet_gap_bootstrap"], n_boot=N_BOOT)
    return out


# --------------------------------------------------------------------------- report


def fmt(x, digits=2):
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}f}"


def pct(x):
    return "-" if x is None else f"{100 * x:.0f} %"


def drag_table(drag: dict) -> str:
    head = ("| method | centroid error (px) | left at source | background PSNR (dB) | identity kept | success | "
            "L1 to true moved (AE), region [95 % CI] | DAI g=4 [95 % CI] | shape IoU | C2ST acc. (p) | C2ST local acc. (p) | "
            "Frechet | UNet calls / rows per case |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for name, m in drag["methods"].items():
        nfe = (f"{m['unet_calls_per_case']:.0f} / {m['unet_rows_per_case']:.0f}" if "unet_calls_per_case" in m else "-")
        ci = lambda k: f"{m[k]:.4f} [{m[k + '_ci95'][0]:.4f}, {m[k + '_ci95'][1]:.4f}]"  # noqa: E731
        lines.append(f"| {name} | {fmt(m['centroid_error_px'])} | {pct(m['left_at_source'])} | "
                     f"{fmt(m['background_psnr_db'], 1)} | {pct(m['identity_kept'])} | {m['successes']}/{drag['n']} | "
                     f"{ci('gt_l1_ae')} | {ci('dai_4')} | {fmt(m['shape_iou'])} | "
                     f"{acc_p(m['c2st'])} | {acc_p(m['c2st_local'])} | {fmt(m['frechet'], 1)} | {nfe} |")
    return head + "\n".join(lines)


def acc_p(test: dict) -> str:
    return f"{pct(test['accuracy'])} ({test['p']:.2g})"


def controls_table(drag: dict) -> str:
    """The realism tests on their positive and null controls (drag.realism.controls)."""
    c = drag["realism"]["controls"]
    head = ("| control | against fresh scenes | must be detected | C2ST acc. (p) | C2ST local acc. (p) |\n"
            "|---|---|---|---|---|\n")
    return head + "\n".join(f"| {name} | {c[key]['what']} | {must} | {acc_p(c[key]['c2st'])} | "
                            f"{acc_p(c[key]['c2st_local'])} |"
                            for name, key, must in (("positive", "positive", "yes"), ("null", "null", "no")))


def gap_cell(g: dict) -> str:
    return f"{g['gap']:+.1f} [{g['ci95'][0]:+.1f}, {g['ci95'][1]:+.1f}]"


def paired_table(drag: dict) -> str:
    head = ("| t0 | success: both / SDE only / ODE only / neither (p) | shape kept: both / SDE only / ODE only / "
            "neither (p) | SDE closer to target (p) | SDE lower L1 to true moved (p); mean SDE - ODE [95 % CI] | "
            "SDE lower DAI g=4 (p) |\n|---|---|---|---|---|---|\n")
    lines = []
    for t0, pc in drag["paired"].items():
        cells = [f"{c['both']} / {c['sde_only']} / {c['ode_only']} / {c['neither']} (p {c['sign_test_p']:.2g})"
                 for c in (pc["success"], pc["shape_kept"])]
        lower = [f"{c['cases']}/{c['of']} (p {c['sign_test_p']:.2g})"
                 for c in (pc["centroid_error_px_sde_lower"], pc["gt_l1_ae_sde_lower"], pc["dai_4_sde_lower"])]
        gt = pc["gt_l1_ae_sde_lower"]
        lines.append(f"| {t0} | {cells[0]} | {cells[1]} | {lower[0]} | {lower[1]}; {gt['mean_sde_minus_ode']:+.4f} "
                     f"[{gt['ci95'][0]:+.4f}, {gt['ci95'][1]:+.4f}] | {lower[2]} |")
    return head + "\n".join(lines)


def i2i_table(i2i: dict) -> str:
    head = ("| method | Frechet (encoder) | Frechet SDE - ODE [95 % CI] | L2 to guide at 1/4 res | L2, blob guides | "
            "L2, hue guides |\n|---|---|---|---|---|---|\n")
    gap = gap_cell(i2i["frechet_gap"]["sde_minus_ode"])
    return head + "\n".join(f"| {name} | {fmt(m['frechet'], 1)} | {gap if m['eta'] == 1.0 else '-'} | "
                            f"{fmt(m['l2_quarter'])} | {fmt(m['l2_quarter_blob'])} | {fmt(m['l2_quarter_hue'])} |"
                            for name, m in i2i["methods"].items())


def inpaint_table(inp: dict) -> str:
    head = ("| mask | method | Frechet (encoder) | Frechet SDE - ODE [95 % CI] | single connected object | "
            "PSNR > 8 px outside the mask (dB, vs AE) |\n|---|---|---|---|---|---|\n")
    lines = []
    for name, m in inp["methods"].items():
        mask = inp["masks"][m["mask"]]
        label = f"{m['mask']} ({100 * mask['image_fraction']:.0f} %)"
        method = name.split(": ", 1)[1]
        gap = gap_cell(inp["frechet_gaps"][f"{m['mask']} mask, {m['steps']} steps"]) if m["eta"] == 1.0 else "-"
        lines.append(f"| {label} | {method} | {fmt(m['frechet'], 1)} | {gap} | {pct(m['single_shape'])} | "
                     f"{fmt(m.get('psnr_far_outside_mask_db'), 1)} |")
    return head + "\n".join(lines)


def where_ode_wins(drag: dict, i2i: dict, inp: dict) -> list[str]:
    """Every figure where ODE is strictly better than SDE at the same settings."""
    wins = []
    better_low = {"centroid_error_px": "centroid error", "left_at_source": "left at source", "frechet": "Frechet"}
    better_high = {"background_psnr_db": "background PSNR", "identity_kept": "identity kept",
                   "success_rate": "success rate"}
    for t0 in drag["t0"]:
        s, o = drag["methods"][f"SDE-Drag t0 {t0:g}"], drag["methods"][f"ODE-Drag t0 {t0:g}"]
        for key, label in better_low.items():
            if o[key] < s[key]:
                wins.append(f"drag t0 {t0:g}: {label} ({fmt(o[key])} vs SDE {fmt(s[key])})")
        for key, label in better_high.items():
            if o[key] > s[key]:
                wins.append(f"drag t0 {t0:g}: {label} ({fmt(o[key])} vs SDE {fmt(s[key])})")
        if abs(o["area_ratio"] - 1) < abs(s["area_ratio"] - 1):
            wins.append(f"drag t0 {t0:g}: area ratio closer to 1 ({fmt(o['area_ratio'])} vs SDE {fmt(s['area_ratio'])})")
    s, o = i2i["methods"]["SDE (eta 1)"], i2i["methods"]["ODE (eta 0)"]
    if o["frechet"] < s["frechet"]:
        wins.append(f"img2img: Frechet ({fmt(o['frechet'], 1)} vs SDE {fmt(s['frechet'], 1)})")
    if o["l2_quarter"] < s["l2_quarter"]:
        wins.append(f"img2img: faithfulness, L2 to the guide ({fmt(o['l2_quarter'])} vs SDE {fmt(s['l2_quarter'])})")
    for name, m in inp["methods"].items():
        if m["eta"] == 0.0:
            sde = inp["methods"][name.replace("ODE", "SDE")]
            if m["frechet"] < sde["frechet"]:
                wins.append(f"inpainting {name.replace('ODE ', '')}: Frechet ({fmt(m['frechet'], 1)} vs SDE {fmt(sde['frechet'], 1)})")
            if m["single_shape"] > sde["single_shape"]:
                wins.append(f"inpainting {name.replace('ODE ', '')}: single connected object ({pct(m['single_shape'])} vs "
                            f"SDE {pct(sde['single_shape'])})")
    return wins


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def main(argv=None):
    import torch

    with torch.inference_mode():  # as ComfyUI's executor runs nodes
        return _main(parse_args(argv), argv)


def _main(args, argv):
    t_start = time.perf_counter()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    demo = Demo(args.weights)
    weights = os.path.abspath(args.weights or os.path.join(ROOT, "demo", "weights"))
    n_fresh = max(args.n, args.n_i2i, args.n_inpaint)
    fresh_images, _ = scenes.generate_batch(SEEDS["fresh_scenes"], n_fresh)
    fresh_images = fresh_images.permute(0, 2, 3, 1).numpy()
    fresh_all = demo.realism_features(fresh_images)
    fresh_feats = fresh_all["flat"]
    # the noise floor of the Frechet distance at each N, and the null control of the two-sample tests:
    # fresh scenes (through the AE) vs other fresh scenes
    floor_images, _ = scenes.generate_batch(SEEDS["fresh_scenes"] + 1, n_fresh)
    null_all = demo.realism_features(demo.roundtrip(floor_images.permute(0, 2, 3, 1).numpy()))
    floor_feats = null_all["flat"]
    floor = {str(n): em.frechet_distance(floor_feats[:n], fresh_feats[:n]) for n in sorted({args.n, args.n_i2i, args.n_inpaint})}

    timings = {}
    t = time.perf_counter()
    drag = run_drag(demo, args, fresh_all, null_all)
    timings["drag_s"] = time.perf_counter() - t
    t = time.perf_counter()
    i2i = run_img2img(demo, args, fresh_feats)
    timings["img2img_s"] = time.perf_counter() - t
    t = time.perf_counter()
    inp = run_inpaint(demo, args, fresh_feats)
    timings["inpaint_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t_start
    wins = where_ode_wins(drag, i2i, inp)

    argv_shown = sys.argv[1:] if argv is None else list(argv)
    result = {
        "command": shlex.join([".venv/bin/python", "-m", "studies.eval_demo", *argv_shown]),
        "mode": "quick" if args.quick else "full",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "python": platform.python_version(), "device": "cpu"},
        "weights": {f: sha256(os.path.join(weights, f)) for f in sorted(os.listdir(weights)) if f.endswith(".safetensors")},
        "seeds": SEEDS,
        "features": "demo autoencoder encoder mean latents, flattened (16x16x4 = 1024 values); Frechet distance of "
                    "Gaussians fitted to them",
        "frechet_floor": {"what": "fresh scenes through the AE vs other fresh scenes, same N", "by_n": floor},
        "drag": drag, "img2img": i2i, "inpaint": inp, "ode_wins": wins, "timings": timings,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)

    print(f"# SDE vs ODE on the demo model\n\n`{result['command']}` ({result['mode']}, {timings['total_s']:.0f} s on "
          f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads)\n")
    print(f"## Drag (N = {drag['n']}, steps {DRAG_PRESET['steps']}, cfg {DRAG_PRESET['cfg']:g}, r {DRAG_PRESET['r']}, "
          f"step_size {DRAG_PRESET['step_size']}, t0 {', '.join(f'{t:g}' for t in drag['t0'])}; scene seed "
          f"{SEEDS['drag_scenes']}, sampler seed {SEEDS['drag_sampler']} + case)\n")
    print(drag_table(drag))
    print(f"\nSuccess: centroid error < {trials.SUCCESS['centroid_error_px']:g} px, < {100 * trials.SUCCESS['left_at_source']:.0f} % "
          f"left at the source, colour and shape kept. The identity classifier on the AE reconstructions of the "
          f"inputs: colour {pct(drag['identity_classifier']['colour_accuracy'])}, shape "
          f"{pct(drag['identity_classifier']['shape_accuracy'])} correct. Frechet floor (fresh vs fresh, N = "
          f"{args.n}): {floor[str(args.n)]:.1f}.\n")
    print(paired_table(drag))
    print(f"\nRealism controls (N = {drag['n']} against as many fresh scenes):\n")
    print(controls_table(drag))
    print()
    print(f"## Image-to-image (N = {i2i['n']}, steps {i2i['steps']}, t0 {i2i['t0']:g}, cfg {i2i['cfg']:g}; guide seed "
          f"{SEEDS['i2i_guides']}, sampler seed {SEEDS['i2i_sampler']})\n")
    print(i2i_table(i2i))
    print(f"\nFrechet floor (fresh vs fresh, N = {args.n_i2i}): {floor[str(args.n_i2i)]:.1f}.\n")
    print(f"## Inpainting (N = {inp['n']} per mask, t0 1, cfg {inp['cfg']:g}, steps {', '.join(map(str, inp['steps']))}; "
          f"scene seed {SEEDS['inpaint_scenes']} + mask, sampler seed {SEEDS['inpaint_sampler']} + mask)\n")
    print(inpaint_table(inp))
    covered = ", ".join(f"{k} {100 * v['object_covered']:.0f} %" for k, v in inp["masks"].items())
    kept = max(m.get("kept_latent_max_abs_diff", 0.0) for m in inp["methods"].values())
    print(f"\nMean share of the object under the mask: {covered}. Outside the mask the latent is the input's "
          f"(max |difference| {kept:.1e}); the decoded pixels there still change because the demo decoder's "
          f"mid-block attention sees the whole latent. Frechet floor (N = {args.n_inpaint}): "
          f"{floor[str(args.n_inpaint)]:.1f}.\n")
    print("## Where ODE wins\n")
    print("\n".join(f"- {w}" for w in wins) if wins else "- nowhere")
    print(f"\nwrote {os.path.relpath(os.path.abspath(args.out), ROOT)}")
    return result


if __name__ == "__main__":
    main()
