"""Exploratory, added after the confirmatory run (not pre-registered): where the switch's placement
error appears, sub-drag by sub-drag, and where its realism is lost (the whitened residual's
variance by region, 1 for data), against SDE-Drag and ODE-Drag at the paper preset on the
64x64 model of study_switch.py. N = 24 cases, seeds 2026120721 (scenes) and 2026120723 (sampler).

    .venv/bin/python -m studies.study_switch_diagnostics    # about 1 minute; prints and writes
                                                               # benchmarks/results/switch-diagnostics.json

Per sub-drag: the posterior-expected x offset (cells; negative = short) from that sub-drag's own
target, of the pasted latent at t0 (exact posterior at sigma(t0)) and of the result (sigma 0).
"""
import json
import os

import torch

from studies import exact_mixture as em
from studies import study_switch as ss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sde_core = em.sde_core
torch.set_num_threads(1)
N = 24
sc = em.TexturedObjectScenes(**ss.SCENE)
x_in = sc.sample(N, torch.Generator().manual_seed(2026120721), points=ss.SOURCE)
sig = em.drag_sigmas(200, 0.6)
n = len(sig) - 1
out = {}
for name, method, eta in (("sde", "sde", 1.0), ("switch_0.25", "sde", sde_core.switch_etas(n, 0.25)),
                          ("switch_0.5", "sde", sde_core.switch_etas(n, 0.5)), ("ode", "ode", 1.0)):
    gen = torch.Generator().manual_seed(2026120723)
    model = sc.denoiser()
    cur, per = x_in, []
    scale = sde_core.VP.vp_scale(sig[0].item())
    for src, tgt in sde_core.plan_subdrags([ss.SOURCE], [ss.TARGET], 2):
        if method == "sde":
            tr = sde_core.record_forward(cur, sig, sde_core.VP, generator=gen)
        else:
            tr = sde_core.ddim_invert(model, cur, sig, sigma_min=em.SD15_SIGMA_MIN, disable=True)
        noise = lambda shape: torch.randn(shape, generator=gen, dtype=cur.dtype)
        edited = sde_core.copy_paste(tr.latent_at_t0, src, tgt, 5, 1.1, 0.3, noise, scale)
        post_t0 = sc.component_posterior(edited, sig[0].item())
        if method == "sde":
            cur = sde_core.sample_cycle_sde(model, edited, sig, trajectory=tr, eta=eta, disable=True)
        else:
            cur = sde_core.sample_ode_masked(model, edited, sig, trajectory=tr, disable=True)
        post = sc.component_posterior(cur, 0.0)
        t = tgt[0].tolist()
        cells = torch.arange(64, dtype=em.DTYPE)
        xoff = ((cells - t[0] + 32) % 64 - 32)[None, :].expand(64, 64)
        per.append({"target": t, "x_offset_after": (post * xoff).flatten(1).sum(1).mean().item(),
                    "x_offset_pasted_at_t0": (post_t0 * xoff).flatten(1).sum(1).mean().item(),
                    "target_weight_after": post[:, t[1], t[0]].mean().item()})
    post = sc.component_posterior(cur, 0.0).flatten(1)
    best = post.argmax(1)
    pts = torch.stack([best % 64, best // 64], 1)
    z = sc.whiten(cur, pts).reshape(N, 64, 64)
    (sr, scc), (tr_, tc) = sde_core.patch_bounds(ss.SOURCE, ss.TARGET, 5, 64, 64)
    tsq = torch.zeros(64, 64, dtype=torch.bool)
    tsq[tr_, tc] = True
    ssq = torch.zeros(64, 64, dtype=torch.bool)
    ssq[sr, scc] = True
    # the path of the object: every cell any sub-drag pasted to
    path = torch.zeros(64, 64, dtype=torch.bool)
    path[27:37, 21:43] = True
    out[name] = {"per_subdrag": per, "whitened_var": {"target square": z[:, tsq].var().item(),
                 "source square": z[:, ssq & ~tsq].var().item(), "the drag path between them (rows 27-36, cols 21-42)": z[:, path & ~tsq & ~ssq].var().item(),
                 "elsewhere": z[:, ~(tsq | ssq | path)].var().item()}}
    print(name, [f"{p['x_offset_pasted_at_t0']:+.2f}->{p['x_offset_after']:+.2f}" for p in per], {k: round(v, 2) for k, v in out[name]["whitened_var"].items()}, flush=True)
with open(os.path.join(ROOT, "benchmarks", "results", "switch-diagnostics.json"), "w") as f:
    json.dump(out, f, indent=1)
