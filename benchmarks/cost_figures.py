"""What SDE Drag costs next to its model calls, each figure measured in the same run (run.py sets the
order): the loop's overhead ratio, model calls per drag, the step overhead, Identity LoRA's training
and per-call cost, the fresh-noise sampler's ratio to ComfyUI's own."""
from __future__ import annotations

import time

import torch

from . import measure
from .measure import interleaved, ratio_stats, stats

HOW = ("node classes called directly in one process (LATENT in -> LATENT out, under torch.inference_mode(), "
       "model loaded, no VAE, no executor); sides interleaved A B A B ..., ratio of the minimums")


def optional_module(host, dotted: str):
    """A pack module, or None when it does not exist (yet) in this checkout."""
    try:
        return host.module(dotted)
    except ImportError:
        return None


class LoRATimer:
    """Times the identity LoRA's own code while it runs (nodes/lora_train.py's IdentityLoRA,
    patched on its class for the duration): the APPLY_MODEL wrapper's work outside the wrapped
    model call (hook registration and removal, the scale look-up) plus every forward hook (the
    low-rank products and the add). Noise-free next to a difference of two noisy drag timings."""

    def __init__(self, lora_train):
        self.cls = lora_train.IdentityLoRA
        self.seconds, self.calls = 0.0, 0

    def __enter__(self):
        cls, timer = self.cls, self
        self.orig_call, self.orig_hook = cls.__call__, cls._hook
        orig_call, orig_hook = self.orig_call, self.orig_hook

        class Executor:  # the wrapped call, timed apart (it holds the model's own work)
            def __init__(self, executor):
                self.executor, self.class_obj, self.inside = executor, executor.class_obj, 0.0

            def __call__(self, *args, **kwargs):
                start = time.perf_counter()
                try:
                    return self.executor(*args, **kwargs)
                finally:
                    self.inside += time.perf_counter() - start

        def timed_call(lora, executor, *args, **kwargs):
            wrapped = Executor(executor)
            start = time.perf_counter()
            try:
                return orig_call(lora, wrapped, *args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - start - wrapped.inside
                timer.calls += 1

        def timed_hook(lora, path, factor):
            hook = orig_hook(lora, path, factor)

            def timed(module, inputs, output):
                start = time.perf_counter()
                try:
                    return hook(module, inputs, output)
                finally:
                    timer.seconds += time.perf_counter() - start

            return timed

        cls.__call__, cls._hook = timed_call, timed_hook
        return self

    def __exit__(self, *exc):
        self.cls.__call__, self.cls._hook = self.orig_call, self.orig_hook


def overhead_and_lora(w, repeats: int, lora=None, fresh_sampler=None, lora_train=None, log=None) -> dict:
    """Figures 1, 2 (on this model), 6b and 7, interleaved in one loop.

    Sides: drag (SDE Drag node) | reference (comfy.sample.sample_custom, batch-2 LATENT, same
    sigmas: the same number of model calls of the same rows) | [drag_lora: the drag with an
    identity LoRA and its scale ramp] | [fresh: the pack's SDE Sampler, eta 1] | [ddpm:
    ComfyUI's ddpm], the last two on a batch-1 LATENT over the same sigmas.
    """
    counts = {}
    sides = {"drag": w.drag, "reference": w.reference}
    if lora is not None:
        sides["drag_lora"] = lambda: w.drag(model=lora)
    if fresh_sampler is not None:
        sides["fresh_sampler"] = lambda: w.comfy_sampling(fresh_sampler, 1)
        sides["ddpm"] = lambda: w.comfy_sampling("ddpm", 1)
    # warm-up: one single-step drag and reference (loads the model; the other sides' one-time
    # costs are small and the minimum over rounds drops them); model calls are counted inside
    # the timed loop (the counting wrapper sits on every side's model alike)
    w.warm_up()

    def counting(name, fn):
        def run():
            w.counter.reset()
            fn()
            snap = w.counter.snapshot()
            if name in counts and counts[name] != snap:
                raise RuntimeError(f"{name}: model calls changed between repeats: {counts[name]} vs {snap}")
            counts[name] = snap
        return run

    timer = None
    if lora is not None and lora_train is not None:
        timer = LoRATimer(lora_train)
        lora_side = sides["drag_lora"]

        def timed_lora():
            with timer:
                lora_side()

        sides["drag_lora"] = timed_lora
    times = interleaved({k: counting(k, fn) for k, fn in sides.items()}, repeats, w.host.synchronize, log)
    s = {k: stats(v) for k, v in times.items()}
    out = {"sides": s, "counts": counts}
    if timer is not None:
        out["lora_code"] = {"seconds": timer.seconds, "wrapper_calls": timer.calls, "drags": repeats}
    return out


def figure_overhead(w, loop: dict) -> dict:
    s, counts = loop["sides"], loop["counts"]
    ratio = ratio_stats(s["drag"], s["reference"])
    same = counts["drag"]["rows_per_call"] == counts["reference"]["rows_per_call"]
    return {
        "title": "Overhead ratio: SDE Drag / ComfyUI sampling, same model calls",
        "goal": "<= 1.05", "value": ratio["of_min"], "pass": ratio["of_min"] <= 1.05 and same,
        "ratio": ratio, "drag_s": s["drag"], "reference_s": s["reference"],
        "drag": "SDEDragAllInOne.drag, method sde, batch-1 LATENT", "reference_sampler": w.reference_sampler,
        "reference": f"comfy.sample.sample_custom (the SamplerCustom node's body) with sampler "
                     f"'{w.reference_sampler}', batch-2 LATENT, the drag's sigmas, cfg {w.cfg}",
        "calls_match": same, "drag_calls": counts["drag"]["calls"], "reference_calls": counts["reference"]["calls"],
        "rows": counts["drag"]["rows"], "reference_rows": counts["reference"]["rows"],
        "per_step_overhead_s": (s["drag"]["min"] - s["reference"]["min"]) / w.n_steps,
        "how": HOW,
    }


def nfe_case(w, cfg=None, drag_px=None, loop_counts=None) -> dict:
    """Calls and rows of one drag, counted by a model_function_wrapper, against the formula."""
    sde_core = w.host.module("sde_core")
    if loop_counts is None:
        saved = (w.cfg, w.points)
        if cfg is not None:
            w.cfg = cfg
        if drag_px is not None:
            c = w.size // 2
            w.points = w.host.module("nodes.points_format").parse_drag_points(f"{c},{c} -> {c + drag_px},{c}")
        try:
            sources, targets = w._cells()
            subdrags = len(sde_core.plan_subdrags(sources, targets, w.step_size))
            scales = sde_core.guidance_scales(w.n_steps, w.cfg)
            counted_ = w.count(w.drag)
            used_cfg, points = w.cfg, w.points
        finally:
            w.cfg, w.points = saved
    else:
        subdrags, scales, counted_, used_cfg, points = w.n_subdrags, w.cfg_scales, loop_counts, w.cfg, w.points
    expected = measure.expected_rows([scales] * subdrags)
    return {"model": w.info["name"], "cfg": used_cfg, "sub_drags": subdrags, "denoising_steps": w.n_steps,
            "calls": counted_["calls"], "rows": counted_["rows"], "expected_calls": subdrags * w.n_steps,
            "expected_rows": expected, "rows_per_call": counted_["rows_per_call"],
            "pass": counted_["rows"] == expected and counted_["calls"] == subdrags * w.n_steps}


def figure_nfe(cases: list) -> dict:
    ok = all(c["pass"] for c in cases)
    return {"title": "NFE: model calls and batch rows per drag, counted vs formula",
            "goal": "rows = sum over sub-drags and steps of 2 x (1 if cfg == 1 else 2); calls = sub-drags x steps",
            "value": "match" if ok else "MISMATCH", "pass": ok, "cases": cases,
            "how": "ModelPatcher.set_model_unet_function_wrapper counting calls and input rows; ComfyUI's cfg1 "
                   "optimisation drops the uncond row where cfg is 1 (math.isclose)"}


def unet_call_time(host, model, shape, context_dim: int, repeats: int) -> dict:
    """One bare UNet call (BaseModel.apply_model) on a latent of `shape`, conditioned."""
    import comfy.model_management

    comfy.model_management.load_models_gpu([model])
    device = model.load_device
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(device)
    sigma = torch.full((shape[0],), 1.0, device=device)
    ctx = torch.randn(shape[0], 77, context_dim, generator=gen).to(device)
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            host.synchronize()
            start = time.perf_counter()
            model.model.apply_model(x, sigma, c_crossattn=ctx)
            host.synchronize()
            times.append(time.perf_counter() - start)
    return stats(times)


def figure_step_overhead(host, model, info, latent_cells: int, steps: int, t0: float, repeats: int,
                         unet_repeats: int, log=None) -> dict:
    """sde_core's SDE-Drag loop (recording, copy-paste, Cycle-SDE steps) with a free denoiser,
    per denoising step, as a fraction of one UNet call of the model on the same latent."""
    sde_core = host.module("sde_core")
    sigmas = host.module("nodes.model_space").paper_sigmas(model, steps, t0)
    n = len(sigmas) - 1
    device = host.device
    latent = torch.randn(1, 4, latent_cells, latent_cells, generator=torch.Generator().manual_seed(0)).to(device)
    c = latent_cells // 2
    sources, targets = torch.tensor([[c, c]], dtype=torch.float64), torch.tensor([[c + 2, c]], dtype=torch.float64)

    def free(x, sigma, **kwargs):
        return x

    def run():
        gen = torch.Generator(device=device).manual_seed(0)
        sde_core.sde_drag(free, latent, sigmas.to(device), disable=True, sources=sources, targets=targets,
                          method=sde_core.sde_method(sde_core.VP), paste=sde_core.CopyPaste(r=5, alpha=1.1, beta=0.3,
                          step_size=2), noise=sde_core.NoiseSource(gen), schedule=sde_core.VP)

    run()
    loop = interleaved({"sde_core": run}, repeats, host.synchronize)["sde_core"]
    per_step = stats([t / n for t in loop])
    if log:
        log(f"  sde_core loop: {per_step['min'] * 1e3:.3f} ms/step; timing one {info['name']} UNet call")
    call = unet_call_time(host, model, (1, 4, latent_cells, latent_cells), info["context_dim"], unet_repeats)
    fraction = per_step["min"] / call["min"]
    return {"title": "Step overhead: sde_core loop with a free denoiser / one UNet call",
            "goal": "< 1 %", "value": fraction, "pass": fraction < 0.01,
            "latent_shape": [1, 4, latent_cells, latent_cells], "denoising_steps": n, "steps": steps, "t0": t0,
            "per_step_s": per_step, "unet_call_s": call, "unet_model": info["name"], "unet_call_shape":
            [1, 4, latent_cells, latent_cells],
            "how": "sde_core.sde_drag (record_forward + copy_paste + sample_cycle_sde, one sub-drag) with a denoiser "
                   "returning its input; divided by the number of steps; min over repeats; the UNet call is one bare "
                   "BaseModel.apply_model with batch 1 (the cheapest call at this size: a drag step makes at least 2 "
                   "rows)"}


def figure_lora_training(host, w, steps: int, rank: int) -> dict:
    lora_train = host.module("nodes.lora_train")
    stamps = []
    lora, _ = lora_train.train_identity_lora(w.base_model, w.latent["samples"], w.positive, rank=rank, steps=steps,
                                             learning_rate=2e-4, seed=1, on_step=lambda i: stamps.append(
                                                 time.perf_counter()))
    per_step = [b - a for a, b in zip(stamps, stamps[1:])]
    return lora, {"rank": rank, "steps_run": steps, "s_per_step": stats(per_step), "layers": len(lora.weights),
                  "model": w.info["name"], "latent_shape": list(w.latent["samples"].shape),
                  "how": "nodes.lora_train.train_identity_lora on a batch-1 latent; time between consecutive "
                         "training steps (forward, backward, AdamW); the first step's set-up (model copy, peft "
                         "injection) is not counted"}


def figure_lora(w, training: dict, loop: dict) -> dict:
    s = loop["sides"]
    step = s["drag"]["min"] / w.n_steps
    code = loop["lora_code"]
    per_step = code["seconds"] / (code["drags"] * w.n_steps)
    fraction = per_step / step
    end_to_end = (s["drag_lora"]["min"] - s["drag"]["min"]) / w.n_steps
    return {"title": "Identity LoRA: training step; time the LoRA with its scale ramp adds per denoising step",
            "goal": "ramp < 2 % of a step", "value": fraction, "pass": fraction < 0.02,
            "training": training, "added_per_step_s": per_step, "step_s": step,
            "end_to_end": {"added_per_step_s": end_to_end, "fraction": end_to_end / step,
                           "ratio": ratio_stats(s["drag_lora"], s["drag"]), "drag_s": s["drag"],
                           "drag_lora_s": s["drag_lora"]},
            "how": "SDE Drag with the trained identity LoRA (rank %d, lora_scale_min 0.5: the scale changes every "
                   "step), timed inside the LoRA's own code (its APPLY_MODEL wrapper outside the model call, and "
                   "every forward hook: the low-rank products and the add, at the ramped scale), per denoising "
                   "step, over the interleaved rounds, as a fraction of a drag step without LoRA; conservative: "
                   "the whole LoRA, not only its ramp. end_to_end: the drag with vs without the LoRA, "
                   "interleaved (the difference of two noisy timings)" % training["rank"]}


def figure_fresh_sampler(w, loop: dict) -> dict:
    s, counts = loop["sides"], loop["counts"]
    ratio = ratio_stats(s["fresh_sampler"], s["ddpm"])
    same = counts["fresh_sampler"]["rows_per_call"] == counts["ddpm"]["rows_per_call"]
    return {"title": "Fresh-noise SDE Sampler (eta 1) / ComfyUI ddpm, same sigmas",
            "goal": "<= 1.02", "value": ratio["of_min"], "pass": ratio["of_min"] <= 1.02 and same,
            "ratio": ratio, "sampler_s": s["fresh_sampler"], "ddpm_s": s["ddpm"], "calls_match": same,
            "calls": counts["ddpm"]["calls"], "rows": counts["ddpm"]["rows"],
            "how": "both through comfy.sample.sample_custom on a batch-1 LATENT, cfg %g; " % w.cfg + HOW}


def todo(title: str, why: str) -> dict:
    return {"title": title, "status": "TODO", "value": None, "pass": None, "why": why}
