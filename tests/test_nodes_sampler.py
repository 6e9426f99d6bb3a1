"""The SDE Sampler (SAMPLER type) inside ComfyUI's SamplerCustom: it agrees with ComfyUI's own
samplers over the same sigmas and seed (eta 1 = ddpm, eta 0 = euler/ddim), for EPS, V and CONST."""
import pytest
import torch

import graphs

BOUND = 1e-4  # max abs difference over 10 steps, float32
# (family, eta, ComfyUI's samplers it must match); ddim is euler without a mask
CASES = [("eps", 1.0, ("ddpm",)), ("eps", 0.0, ("euler", "ddim")),
         ("v", 1.0, ("ddpm",)), ("v", 0.0, ("euler",)),
         ("flow", 0.0, ("euler",))]
# BasicScheduler at denoise 0.6: from sigma_max the random tiny EPS network's outputs reach ~300,
# where float32 rounding of the two (equal) formulas alone is ~2e-4 (relative 6e-7).
FAST = {"width": 16, "height": 16, "cfg": 1.0, "denoise": 0.6}


def _run(host, captured, family, sampler, **kw):
    result = host.run(graphs.sampler_custom(family, sampler, **{**FAST, **kw}))
    assert result.ok, result
    return captured["output"]["samples"].clone()


@pytest.mark.parametrize("family,eta,comfy_names", CASES)
def test_the_sde_sampler_matches_comfyuis_sampler_over_the_same_sigmas_and_seed(host, captured, family, eta,
                                                                                comfy_names):
    ours = _run(host, captured, family, graphs.sde_sampler(eta))
    assert torch.isfinite(ours).all()
    for name in comfy_names:
        theirs = _run(host, captured, family, graphs.comfy_sampler(name))
        diff = (ours - theirs).abs().max().item()
        print(f"{family}: SDE Sampler eta={eta:g} vs ComfyUI {name}: max abs diff {diff:.2e} over 10 steps "
              f"(output max abs {theirs.abs().max().item():.2f})")
        assert diff <= BOUND


def test_on_const_eta_one_draws_noise_from_the_seed(host, captured):
    sde_a = _run(host, captured, "flow", graphs.sde_sampler(1.0), steps=5, seed=3)
    sde_c = _run(host, captured, "flow", graphs.sde_sampler(1.0), steps=5, seed=4)
    assert torch.isfinite(sde_a).all()
    assert not torch.equal(sde_a, sde_c)


@pytest.mark.parametrize("family", ["eps", "flow"])
def test_an_inversion_output_runs_through_sampler_custom_advanced_with_disable_noise(host, captured, family):
    result = host.run(graphs.inversion_then_sampler_custom_advanced(family, eta=1.0, steps=5, width=16, height=16))
    assert result.ok, result
    out, inp = captured["output"]["samples"], captured["input"]["samples"]
    assert out.shape == inp.shape and torch.isfinite(out).all()
