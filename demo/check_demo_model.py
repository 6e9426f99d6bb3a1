"""Standalone check of the embedded demo model through ComfyUI's own classes and nodes.

    python -m demo.check_demo_model [--weights demo/weights] [--out /tmp/sde_drag_demo_check.png]

1. loads the model with ``demo/model.py:load_demo_model`` (MODEL, CLIP, VAE);
2. VAE encode -> decode PSNR on 16 fresh scenes, through the core ``VAEEncode``/``VAEDecode``;
3. samples with the core ``CLIPTextEncode`` + ``KSampler`` (30 steps, euler, normal, cfg 4),
   rows: "red disc" x2, "blue square", "yellow triangle", "green disc", "" (unconditional);
   saves a PNG grid and reports, per prompt, how often the generated object's colour (the
   mean colour of its saturated pixels, nearest palette entry) matches the prompt.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from harness.comfy_host import REPO, setup_comfy


def object_colour(img: np.ndarray, palette: dict):
    """Nearest palette colour of the saturated pixels of ``img`` [H,W,3] in [0,1] (or None)."""
    mx, mn = img.max(-1), img.min(-1)
    sat = (mx - mn) / np.maximum(mx, 1e-6)
    m = (sat > 0.6) & (mx > 0.3)
    if m.sum() < 10:
        return None, int(m.sum())
    mean = img[m].mean(0)
    mean = mean / max(mean.max(), 1e-6)
    names = list(palette)
    d = [np.abs(mean - np.array(palette[n]) / max(palette[n])).sum() for n in names]
    return names[int(np.argmin(d))], int(m.sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=os.path.join(REPO, "demo", "weights"))
    ap.add_argument("--out", default="/tmp/sde_drag_demo_check.png")
    ap.add_argument("--per-row", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--cfg", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    setup_comfy()
    import nodes
    from demo import model as dm  # after setup_comfy: it imports ComfyUI
    from demo import scenes
    report = {}

    t = time.time()
    model, clip, vae = dm.load_demo_model(a.weights)
    report["load_s"] = time.time() - t
    report["latent_scale_factor"] = model.model.latent_format.scale_factor
    report["vae_downscale"] = vae.downscale_ratio

    with torch.inference_mode():
        # VAE round trip through the core nodes
        imgs, _ = scenes.generate_batch(12345, 16)
        pixels = imgs.permute(0, 2, 3, 1).contiguous()
        lat = nodes.VAEEncode().encode(vae, pixels)[0]
        rec = nodes.VAEDecode().decode(vae, lat)[0]
        mse = ((rec - pixels) ** 2).mean(dim=(1, 2, 3))
        report["vae_latent_shape"] = list(lat["samples"].shape)
        report["vae_psnr_16_fresh_db"] = float((10 * torch.log10(1 / mse)).mean())
        print(f"VAE: latent {tuple(lat['samples'].shape)}, PSNR on 16 fresh scenes "
              f"{report['vae_psnr_16_fresh_db']:.2f} dB", flush=True)

        # sampling through the core text-encode and KSampler nodes
        prompts = ["red disc", "red disc", "blue square", "yellow triangle", "green disc", ""]
        neg = nodes.CLIPTextEncode().encode(clip, "")[0]
        rows, report["samples"] = [], {}
        t = time.time()
        for ri, prompt in enumerate(prompts):
            pos = nodes.CLIPTextEncode().encode(clip, prompt)[0]
            latent = {"samples": torch.zeros(a.per_row, 4, 16, 16)}
            out = nodes.KSampler().sample(model, a.seed + ri, a.steps, a.cfg, "euler", "normal", pos, neg, latent)[0]
            img = nodes.VAEDecode().decode(vae, out)[0]
            rows.append(img)
            col = [object_colour(im.numpy(), scenes.COLOURS) for im in img]
            want = prompt.split()[0] if prompt else None
            key = prompt or "<empty>"
            r = report["samples"].setdefault(key, {"n": 0, "colour_match": 0, "no_object": 0})
            r["n"] += len(col)
            r["colour_match"] += sum(c == want for c, _ in col) if want else 0
            r["no_object"] += sum(c is None for c, _ in col)
            r.setdefault("colours", []).extend([c for c, _ in col])
            print(f"{key!r}: colours {[c for c, _ in col]}", flush=True)
        report["sampling_s_per_row"] = (time.time() - t) / len(prompts)
        report["sampling"] = {"steps": a.steps, "cfg": a.cfg, "sampler": "euler", "scheduler": "normal",
                              "seed": a.seed, "per_row": a.per_row}

    grid = torch.cat([torch.cat(list(r), dim=1) for r in rows], dim=0).numpy()
    arr = (grid * 255).round().clip(0, 255).astype(np.uint8)
    from PIL import Image
    im = Image.fromarray(arr)
    im = im.resize((im.width * 2, im.height * 2), Image.NEAREST)
    im.save(a.out)
    report["grid"] = a.out
    report["grid_rows"] = prompts
    print(json.dumps({k: v for k, v in report.items()}, indent=1, default=str))


if __name__ == "__main__":
    main()
