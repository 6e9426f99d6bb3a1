"""Train the embedded demo model of ComfyUI-SDE-Drag (CPU, about 30 minutes on 2 cores).

    python -m demo.train_demo_model                      # both phases, default budgets
    python -m demo.train_demo_model --skip-ae            # keep demo_vae.safetensors, retrain the UNet
    python -m demo.train_demo_model --ae-steps N --unet-steps M   # reproduce a run's step counts

Phase A trains an autoencoder 64x64x3 <-> 16x16x4 (ComfyUI's ``AutoencoderKL``, loaded by
``comfy.sd.VAE``). Phase B computes the latent scale factor and the latent->RGB preview
factors. Phase C trains an epsilon-predicting ``openaimodel.UNetModel`` (SD1.5's discrete
schedule) jointly with the tiny text encoder, dropping the prompt 15 % of the time so that
classifier-free guidance works. Scenes are generated on the fly (``demo/scenes.py``); no
image is ever reused for long (a rolling latent buffer is refreshed every step).

Writes ``demo/weights/{demo_vae,demo_unet,demo_text}.safetensors`` and ``settings.json``
(settings, seeds, parameter counts, final losses, AE PSNR, wall times). The architectures
are defined in ``demo/model.py``; ComfyUI is found at ``$COMFYUI_PATH`` or
``<repo>/.host/ComfyUI``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

from harness.comfy_host import REPO, setup_comfy


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def psnr(a, b):
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3)).clamp(min=1e-12)
    return (10 * torch.log10(1.0 / mse)).mean().item()


def cosine_lr_frac(step, frac, base, final, warmup):
    """Linear warm-up over ``warmup`` steps, then cosine from ``base`` to ``final`` over the
    run's progress ``frac`` in [0, 1] (steps done / steps, or time used / time budget: the
    machine is shared, so a time budget is the default and the step count is recorded)."""
    w = min(1.0, (step + 1) / warmup)
    return w * (final + 0.5 * (base - final) * (1 + math.cos(math.pi * min(1.0, frac))))


def phase_progress(opt, step, steps, started, minutes, lr, warmup):
    """How much of a training phase's budget is spent: ``step / steps`` when a step count is
    given, else the wall time since ``started`` over ``minutes``; the phase ends at 1. Before
    that it sets ``opt``'s learning rate to ``cosine_lr_frac`` from ``lr`` down to ``lr / 20``."""
    frac = step / steps if steps is not None else (time.time() - started) / (minutes * 60)
    if frac < 1.0:
        for g in opt.param_groups:
            g["lr"] = cosine_lr_frac(step, frac, lr, lr * 0.05, warmup)
    return frac


def save_sf(sd, path, metadata=None):
    from safetensors.torch import save_file
    tmp = path + ".tmp"
    save_file({k: v.detach().contiguous().float().cpu() for k, v in sd.items()}, tmp, metadata=metadata)
    os.replace(tmp, path)


class EMA:
    def __init__(self, module, decay):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module, step):
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in module.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach().float(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)


# ---------------------------------------------------------------------------- phase A

def train_autoencoder(dm, scenes, a, settings, out_dir, ckpt_dir):
    torch.manual_seed(a.seed)
    ae = dm.init_comfy_module(dm.build_autoencoder(dm.DEFAULT_VAE_DDCONFIG), seed=a.seed)
    ae.train()
    n_params = sum(p.numel() for p in ae.parameters())
    log(f"AE: {n_params} parameters")
    opt = torch.optim.Adam(ae.parameters(), lr=a.ae_lr)
    rng = np.random.default_rng(a.seed + 1)
    val, _ = scenes.generate_batch(a.seed + 1000, 64)
    t0 = time.time()
    total = a.ae_steps
    step, hist = 0, []
    last_ckpt = time.time()
    while phase_progress(opt, step, total, t0, a.ae_minutes, a.ae_lr, 100) < 1.0:
        x, _ = scenes.generate_batch(rng, a.ae_batch)
        x = x * 2 - 1
        z = ae.encode(x)
        zn = z + a.ae_latent_noise * z.detach().std() * torch.randn_like(z)
        y = ae.decode(zn)
        mse = (y - x).pow(2).mean()
        loss = mse + 0.1 * (y - x).abs().mean() + a.ae_latent_l2 * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.parameters(), 1.0)
        opt.step()
        hist.append(mse.item())
        step += 1
        if step % 100 == 0:
            ae.eval()
            with torch.no_grad():
                rec = ((ae.decode(ae.encode(val * 2 - 1)) + 1) / 2).clamp(0, 1)
            ae.train()
            p = psnr(rec, val)
            log(f"AE step {step}/{total} mse {np.mean(hist[-100:]):.5f} val PSNR {p:.2f} dB "
                f"lr {opt.param_groups[0]['lr']:.2e} {time.time() - t0:.0f}s")
        if time.time() - last_ckpt > 120:
            torch.save({"ae": ae.state_dict(), "step": step}, os.path.join(ckpt_dir, "ae_ckpt.pt"))
            last_ckpt = time.time()
    wall = time.time() - t0
    ae.eval()
    fresh, _ = scenes.generate_batch(a.seed + 2000, 256)
    with torch.no_grad():
        rec = ((ae.decode(ae.encode(fresh * 2 - 1)) + 1) / 2).clamp(0, 1)
    p_fresh = psnr(rec, fresh)
    log(f"AE done: {step} steps, {wall:.0f}s, PSNR on 256 fresh scenes {p_fresh:.2f} dB")
    save_sf(ae.state_dict(), os.path.join(out_dir, "demo_vae.safetensors"),
            {"config": json.dumps({"ddconfig": dm.DEFAULT_VAE_DDCONFIG, "embed_dim": 4})})
    settings["autoencoder"] = {
        "ddconfig": dm.DEFAULT_VAE_DDCONFIG, "class": "comfy.ldm.models.autoencoder.AutoencoderKL",
        "parameters": n_params, "steps": step, "batch": a.ae_batch, "lr": a.ae_lr,
        "loss": "mse + 0.1 * l1 + latent_l2 * mean(z^2), latent noise during training",
        "latent_l2": a.ae_latent_l2, "latent_noise": a.ae_latent_noise,
        "final_train_mse": float(np.mean(hist[-100:])),
        "psnr_fresh_256_db": p_fresh, "wall_s": wall, "seed": a.seed,
    }
    return ae


# ---------------------------------------------------------------------------- phase B

@torch.no_grad()
def latent_stats(ae, scenes, a, settings):
    imgs, _ = scenes.generate_batch(a.seed + 3000, 1024)
    zs = torch.cat([ae.encode(imgs[i:i + 128] * 2 - 1) for i in range(0, 1024, 128)])
    std = zs.std().item()
    scale = 1.0 / std
    zsc = zs * scale
    # latent -> RGB (in [-1, 1]) least squares on 4x4-pooled images, for ComfyUI's previews
    small = torch.nn.functional.avg_pool2d(imgs * 2 - 1, 4)
    X = torch.cat([zsc.permute(0, 2, 3, 1).reshape(-1, 4), torch.ones(zsc.numel() // 4, 1)], 1).double()
    Y = small.permute(0, 2, 3, 1).reshape(-1, 3).double()
    W = torch.linalg.lstsq(X, Y).solution
    settings["latent"] = {
        "scale_factor": scale,
        "raw_std": std,
        "raw_channel_mean": zs.mean(dim=(0, 2, 3)).tolist(),
        "raw_channel_std": zs.std(dim=(0, 2, 3)).tolist(),
        "rgb_factors": W[:4].float().tolist(),
        "rgb_factors_bias": W[4].float().tolist(),
        "channels": 4, "downscale": 4, "n_scenes": 1024, "seed": a.seed + 3000,
    }
    log(f"latent std {std:.4f} -> scale factor {scale:.5f}; channel means "
        f"{[round(v, 3) for v in settings['latent']['raw_channel_mean']]}")
    return scale


# ---------------------------------------------------------------------------- phase C

def train_unet(dm, scenes, ae, scale, a, settings, out_dir, ckpt_dir):
    torch.manual_seed(a.seed + 10)
    model = dm.build_base_model(dm.DEFAULT_UNET_CONFIG, scale)
    unet = dm.init_comfy_module(model.diffusion_model, seed=a.seed + 10)
    # zero the output conv, as usual for diffusion UNets
    torch.nn.init.zeros_(unet.out[-1].weight)
    torch.nn.init.zeros_(unet.out[-1].bias)
    torch.manual_seed(a.seed + 11)
    text = dm.DemoTextEncoder(**dm.DEFAULT_TEXT_CONFIG)
    unet.train()
    text.train()
    n_unet = sum(p.numel() for p in unet.parameters())
    n_text = sum(p.numel() for p in text.parameters())
    log(f"UNet: {n_unet} parameters; text encoder: {n_text}")
    params = list(unet.parameters()) + list(text.parameters())
    opt = torch.optim.AdamW(params, lr=a.unet_lr, weight_decay=0.0)
    ema_u, ema_t = EMA(unet, a.ema), EMA(text, a.ema)
    step0 = 0
    if a.resume_unet:
        # continue from the last run: raw weights from the checkpoint, EMA from the shipped files
        import comfy.utils
        shipped_u = comfy.utils.load_torch_file(os.path.join(out_dir, "demo_unet.safetensors"))
        shipped_t = comfy.utils.load_torch_file(os.path.join(out_dir, "demo_text.safetensors"))
        ema_u.shadow = {k: v.float() for k, v in shipped_u.items()}
        ema_t.shadow = {k: v.float() for k, v in shipped_t.items()}
        ckpt = os.path.join(ckpt_dir, "unet_ckpt.pt")
        if os.path.exists(ckpt):
            ck = torch.load(ckpt, map_location="cpu")
            unet.load_state_dict(ck["unet"])
            text.load_state_dict(ck["text"])
            step0 = int(ck["step"])
        else:
            # the raw weights died with an earlier machine's /tmp: start them from the shipped EMA
            # weights (the step count is the shipped files' own)
            unet.load_state_dict(shipped_u)
            text.load_state_dict(shipped_t)
            from safetensors import safe_open
            with safe_open(os.path.join(out_dir, "demo_unet.safetensors"), "pt") as f:
                step0 = int((f.metadata() or {}).get("step", 0))
        log(f"resumed UNet from step {step0}" + ("" if os.path.exists(ckpt) else " (shipped EMA weights; no checkpoint)"))

    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    abar = torch.cumprod(1 - betas, 0).float()

    rng = np.random.default_rng(a.seed + 20)
    gen = torch.Generator().manual_seed(a.seed + 21)
    colours, shapes = list(dm.COLOURS), list(dm.SHAPES)

    def fresh(n):
        imgs, params_ = scenes.generate_batch(rng, n)
        with torch.no_grad():
            z = ae.encode(imgs * 2 - 1) * scale
        c = torch.tensor([colours.index(p["colour"]) for p in params_])
        s = torch.tensor([shapes.index(p["shape"]) for p in params_])
        return z, c, s

    N = a.buffer
    buf_z, buf_c, buf_s = [], [], []
    for i in range(0, N, 128):
        z, c, s = fresh(min(128, N - i))
        buf_z.append(z), buf_c.append(c), buf_s.append(s)
    buf_z, buf_c, buf_s = torch.cat(buf_z), torch.cat(buf_c), torch.cat(buf_s)
    ptr = 0
    L = dm.DEFAULT_TEXT_CONFIG["length"]

    def prompt_ids(c, s):
        ids = torch.zeros(len(c), L, dtype=torch.long)
        u = torch.rand(len(c), generator=gen)
        swap = torch.rand(len(c), generator=gen) < 0.1
        for i in range(len(c)):
            cw, sw = dm.WORD_IDS[colours[c[i]]], dm.WORD_IDS[shapes[s[i]]]
            if u[i] < a.p_uncond:
                words = []
            elif u[i] < a.p_uncond + 0.075:
                words = [cw]
            elif u[i] < a.p_uncond + 0.15:
                words = [sw]
            else:
                words = [sw, cw] if swap[i] else [cw, sw]
            ids[i, :len(words)] = torch.tensor(words, dtype=torch.long)
        return ids

    t0 = time.time()
    total = a.unet_steps
    step, hist = 0, []
    last_ckpt = time.time()

    def write_weights(final=False):
        usd = {k: v for k, v in ema_u.shadow.items()}
        tsd = {k: v for k, v in ema_t.shadow.items()}
        meta = {"step": str(step0 + step), "ema": str(a.ema)}
        save_sf(usd, os.path.join(out_dir, "demo_unet.safetensors"), {**meta, "config": json.dumps(dm.DEFAULT_UNET_CONFIG)})
        save_sf(tsd, os.path.join(out_dir, "demo_text.safetensors"), {**meta, "config": json.dumps(dm.DEFAULT_TEXT_CONFIG)})
        torch.save({"unet": unet.state_dict(), "text": text.state_dict(), "step": step0 + step, "total": total},
                   os.path.join(ckpt_dir, "unet_ckpt.pt"))

    while phase_progress(opt, step, total, t0, a.unet_minutes, a.unet_lr, 200) < 1.0:
        # refresh part of the buffer with new scenes
        z, c, s = fresh(a.refresh)
        idx = torch.arange(ptr, ptr + a.refresh) % N
        buf_z[idx], buf_c[idx], buf_s[idx] = z, c, s
        ptr = (ptr + a.refresh) % N
        bi = torch.randint(0, N, (a.unet_batch,), generator=gen)
        x0 = buf_z[bi]
        ids = prompt_ids(buf_c[bi], buf_s[bi])
        t = torch.randint(0, 1000, (a.unet_batch,), generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        ab = abar[t].view(-1, 1, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        ctx = text(ids)
        pred = unet(xt, t.float(), context=ctx)
        loss = (pred - eps).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema_u.update(unet, step0 + step)
        ema_t.update(text, step0 + step)
        hist.append(loss.item())
        step += 1
        if step % 200 == 0:
            log(f"UNet step {step}/{total} loss {np.mean(hist[-200:]):.4f} lr {opt.param_groups[0]['lr']:.2e} "
                f"{time.time() - t0:.0f}s")
        if time.time() - last_ckpt > a.ckpt_every:
            write_weights()
            last_ckpt = time.time()
    wall = time.time() - t0
    write_weights(final=True)
    log(f"UNet done: {step} steps, {wall:.0f}s, final loss {np.mean(hist[-200:]):.4f}")
    settings["unet"] = {
        "unet_config": dm.DEFAULT_UNET_CONFIG, "class": "comfy.ldm.modules.diffusionmodules.openaimodel.UNetModel",
        "model": "comfy.model_base.BaseModel, ModelType.EPS",
        "schedule": "SD1.5 discrete: scaled-linear betas 0.00085..0.012, 1000 steps",
        "parameters": n_unet, "steps": step0 + step, "steps_this_run": step, "resumed_from_step": step0,
        "batch": a.unet_batch, "lr": a.unet_lr, "ema": a.ema,
        "weights": "EMA", "p_uncond": a.p_uncond,
        "prompts": "p_uncond empty; 7.5% colour only; 7.5% shape only; else 'colour shape' (10% swapped)",
        "latent_buffer": a.buffer, "refresh_per_step": a.refresh,
        "final_loss_last200": float(np.mean(hist[-200:])),
        "loss_first200": float(np.mean(hist[:200])),
        "wall_s": wall, "seed": a.seed + 10,
    }
    settings["text_encoder"] = {"text_config": dm.DEFAULT_TEXT_CONFIG, "parameters": n_text,
                                "vocabulary": list(dm.VOCABULARY), "aliases": dm.ALIASES}


# ---------------------------------------------------------------------------- phase D

def finetune_decoder(dm, scenes, a, settings_d, out_dir, ckpt_dir):
    """Fine-tune the decoder with the encoder frozen: the latents (and so the UNet trained on
    them and the latent scale factor) are unchanged, only the reconstruction improves."""
    import comfy.utils
    path = os.path.join(out_dir, "demo_vae.safetensors")
    ae = dm.build_autoencoder(dm.DEFAULT_VAE_DDCONFIG)
    ae.load_state_dict(comfy.utils.load_torch_file(path))
    ae.eval()
    for p in ae.parameters():
        p.requires_grad_(False)
    dec_params = list(ae.decoder.parameters()) + list(ae.post_quant_conv.parameters())
    for p in dec_params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(dec_params, lr=a.dec_lr)
    rng = np.random.default_rng(a.seed + 5)
    fresh, _ = scenes.generate_batch(a.seed + 2000, 256)

    def eval_psnr():
        with torch.no_grad():
            rec = ((ae.decode(ae.encode(fresh * 2 - 1)) + 1) / 2).clamp(0, 1)
        return psnr(rec, fresh)

    p0 = eval_psnr()
    log(f"decoder fine-tune: start PSNR {p0:.2f} dB")
    t0 = time.time()
    step, hist, last_ckpt = 0, [], time.time()
    while phase_progress(opt, step, a.dec_steps, t0, a.dec_minutes, a.dec_lr, 50) < 1.0:
        x, _ = scenes.generate_batch(rng, a.ae_batch)
        x = x * 2 - 1
        with torch.no_grad():
            z = ae.encode(x)
            z = z + a.ae_latent_noise * z.std() * torch.randn_like(z)
        ae.decoder.train()
        y = ae.decode(z)
        mse = (y - x).pow(2).mean()
        loss = mse + 0.1 * (y - x).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec_params, 1.0)
        opt.step()
        hist.append(mse.item())
        step += 1
        if step % 100 == 0:
            log(f"decoder step {step} mse {np.mean(hist[-100:]):.5f} lr {opt.param_groups[0]['lr']:.2e} {time.time() - t0:.0f}s")
        if time.time() - last_ckpt > 120:
            torch.save({"ae": ae.state_dict(), "step": step}, os.path.join(ckpt_dir, "dec_ckpt.pt"))
            last_ckpt = time.time()
    wall = time.time() - t0
    ae.eval()
    p1 = eval_psnr()
    log(f"decoder fine-tune done: {step} steps, {wall:.0f}s, PSNR {p0:.2f} -> {p1:.2f} dB")
    if p1 > p0:
        save_sf(ae.state_dict(), path, {"config": json.dumps({"ddconfig": dm.DEFAULT_VAE_DDCONFIG, "embed_dim": 4})})
    settings_d["decoder_finetune"] = {"steps": step, "lr": a.dec_lr, "batch": a.ae_batch, "wall_s": wall,
                                      "psnr_before_db": p0, "psnr_after_db": p1, "kept": p1 > p0,
                                      "encoder": "frozen (latents unchanged)", "seed": a.seed + 5}
    if p1 > p0:
        settings_d["autoencoder"]["psnr_fresh_256_db"] = p1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "demo", "weights"))
    ap.add_argument("--ckpt-dir", default=os.path.join("/tmp", "sde_drag_demo_ckpt"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-ae", action="store_true", help="reuse demo_vae.safetensors in --out")
    ap.add_argument("--ae-minutes", type=float, default=8.0)
    ap.add_argument("--ae-steps", type=int, default=None)
    ap.add_argument("--ae-batch", type=int, default=16)
    ap.add_argument("--ae-lr", type=float, default=2e-3)
    ap.add_argument("--ae-latent-l2", type=float, default=1e-4)
    ap.add_argument("--ae-latent-noise", type=float, default=0.02)
    ap.add_argument("--unet-minutes", type=float, default=22.0)
    ap.add_argument("--unet-steps", type=int, default=None)
    ap.add_argument("--unet-batch", type=int, default=32)
    ap.add_argument("--unet-lr", type=float, default=1e-3)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--p-uncond", type=float, default=0.15)
    ap.add_argument("--buffer", type=int, default=2048)
    ap.add_argument("--refresh", type=int, default=8)
    ap.add_argument("--ckpt-every", type=float, default=90.0)
    ap.add_argument("--resume-unet", action="store_true",
                    help="with --skip-ae: continue the UNet from --ckpt-dir/unet_ckpt.pt, or from the EMA "
                         "weights in --out where no checkpoint is left (EMA from --out)")
    ap.add_argument("--dec-minutes", type=float, default=12.0, help="phase D: decoder fine-tune (0 = skip)")
    ap.add_argument("--dec-steps", type=int, default=None)
    ap.add_argument("--dec-lr", type=float, default=1e-3)
    ap.add_argument("--only-decoder", action="store_true",
                    help="run phase D alone on --out (it may run beside phase C: the encoder is frozen)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.ckpt_dir, exist_ok=True)
    setup_comfy()
    from demo import model as dm  # after setup_comfy: it imports ComfyUI
    from demo import scenes

    settings_path = os.path.join(a.out, "settings.json")
    if a.only_decoder:
        d = {"autoencoder": {}}
        finetune_decoder(dm, scenes, a, d, a.out, a.ckpt_dir)
        with open(os.path.join(a.out, "decoder_finetune.json"), "w") as f:
            json.dump({"command": " ".join(["python"] + sys.argv), **d}, f, indent=1)
        return
    settings = {}
    if a.skip_ae and os.path.isfile(settings_path):
        with open(settings_path) as f:
            settings = json.load(f)
    settings["command"] = " ".join(["python"] + sys.argv)
    settings["args"] = vars(a)
    settings["torch"] = torch.__version__
    settings["image_size"] = scenes.IMAGE_SIZE
    settings["vocabulary"] = {"colours": list(dm.COLOURS), "shapes": list(dm.SHAPES)}
    t_all = time.time()

    if a.skip_ae:
        import comfy.utils
        ae = dm.build_autoencoder(dm.DEFAULT_VAE_DDCONFIG)
        ae.load_state_dict(comfy.utils.load_torch_file(os.path.join(a.out, "demo_vae.safetensors")))
        ae.eval()
    else:
        ae = train_autoencoder(dm, scenes, a, settings, a.out, a.ckpt_dir)
    for p in ae.parameters():
        p.requires_grad_(False)
    scale = latent_stats(ae, scenes, a, settings)
    settings["vae_ddconfig"] = dm.DEFAULT_VAE_DDCONFIG
    settings["unet_config"] = dm.DEFAULT_UNET_CONFIG
    settings["text_config"] = dm.DEFAULT_TEXT_CONFIG
    with open(settings_path, "w") as f:
        json.dump(settings, f, indent=1)

    train_unet(dm, scenes, ae, scale, a, settings, a.out, a.ckpt_dir)
    if a.dec_minutes > 0 or a.dec_steps:
        finetune_decoder(dm, scenes, a, settings, a.out, a.ckpt_dir)
    settings["wall_s_total_this_run"] = time.time() - t_all
    settings["files"] = {fn: os.path.getsize(os.path.join(a.out, fn)) for fn in sorted(os.listdir(a.out))
                         if fn.endswith(".safetensors")}
    with open(settings_path, "w") as f:
        json.dump(settings, f, indent=1)
    log("wrote", a.out, settings["files"])


if __name__ == "__main__":
    main()
