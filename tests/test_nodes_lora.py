"""Identity LoRA (peft): training lowers the denoising loss, the input MODEL is untouched, the
saved file reloads with the core LoraLoader, and SDE Drag's LoRA-scale ramp.

Test settings (not the node's defaults, which stay the paper's rank 4 / 100 steps / lr 2e-4):
rank 4, 60 steps, lr 1e-2, on an 8x8 latent given as a batch of 4 copies of one image (4
random (timestep, noise) pairs per step). The tiny models damp their output convolution by
0.1 (for float rounding in the Cycle-SDE tests); with it a LoRA on the attention projections
cannot move the output far enough, so these tests use a copy with torch's default output init.
"""
import os

import pytest
import torch

from harness import tiny_models

RANK, STEPS, LR, SEED = 4, 60, 1e-2, 1
BATCH, SIZE = 4, 8
LORA_FAMILIES = ("eps", "v", "flow")
_TRAINABLE: dict = {}


def trainable_model(family):
    import comfy.model_patcher

    if family not in _TRAINABLE:
        # A model of its own, not a deep copy: ComfyUI 0.4+ model configs cannot be deep-copied.
        inner = tiny_models.base_model(family, damped=False)
        cpu = torch.device("cpu")
        _TRAINABLE[family] = comfy.model_patcher.ModelPatcher(inner, load_device=cpu, offload_device=cpu)
    return _TRAINABLE[family].clone()


class TestTrainableTinyModel:
    CATEGORY = "_tests"
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"family": (list(LORA_FAMILIES),)}}

    def load(self, family):
        return (trainable_model(family),)


def image_latent():
    return 0.5 * torch.randn(1, 4, SIZE, SIZE, generator=torch.Generator().manual_seed(0))


def denoised(model, cond, x0, sigma, noise):
    """D(x, sigma) through ComfyUI's guider (cfg 1): LoRA patches and wrappers act as in KSampler.
    x0 is in sampling space; sigma holds one sigma per batch item."""
    import comfy.samplers

    sampling = model.get_model_object("model_sampling")
    x = sampling.noise_scaling(sigma.view(-1, 1, 1, 1), noise, x0)
    out = {}

    def fn(denoiser, x_in, sigmas, extra_args=None, callback=None, disable=None):
        out["d"] = denoiser(x, sigma, **(extra_args or {}))
        return x_in

    guider = comfy.samplers.CFGGuider(model)
    guider.inner_set_conds({"positive": cond})
    guider.set_cfg(1.0)
    latent = torch.zeros_like(x0)
    with torch.inference_mode():
        guider.sample(torch.zeros_like(latent), latent, comfy.samplers.KSAMPLER(fn), torch.tensor([1.0, 0.0]),
                      disable_pbar=True, seed=0)
    return out["d"].float()


def fixed_pairs(model, count=8, seed=99):
    sigmas = model.get_model_object("model_sampling").sigmas.float()
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(sigmas), (count,), generator=gen)
    return sigmas[idx], torch.randn(count, 4, SIZE, SIZE, generator=gen)


def loss_on(model, cond, x0, pairs):
    """The family's own loss |F - F_target|^2 = |D - x0|^2 / c_out^2 (see nodes/lora_train.py)."""
    sigma, noise = pairs
    sampling = model.get_model_object("model_sampling")
    x0 = x0.expand(len(sigma), -1, -1, -1)
    d = denoised(model, cond, x0, sigma, noise)
    c_out = sampling.calculate_denoised(sigma, torch.ones(len(sigma), 1, 1, 1), torch.zeros(len(sigma), 1, 1, 1))
    return float((((d - x0) ** 2).flatten(1).mean(1) / c_out.flatten() ** 2).mean())


@pytest.fixture(scope="module")
def trained(host):
    """Per family: the Identity LoRA node run by ComfyUI's executor; the saved file."""
    import folder_paths

    import graphs

    host.register({"TestTrainableTinyModel": TestTrainableTinyModel})
    results, saved = {}, []

    def get(family):
        if family in results:
            return results[family]
        base = trainable_model(family)
        before = {k: v.clone() for k, v in base.model.state_dict().items()}
        g = {"model": {"class_type": "TestTrainableTinyModel", "inputs": {"family": family}},
             "pos": {"class_type": "TestConditioning", "inputs": {"family": family, "seed": 1}},
             "latent": {"class_type": "TestPatternLatent", "inputs": {
                 "width": SIZE, "height": SIZE, "batch": 1, "seed": 0, "patch_x": -1, "patch_y": -1,
                 "patch_radius": 3}},
             "batch": {"class_type": "RepeatLatentBatch", "inputs": {"samples": ["latent", 0], "amount": BATCH}},
             "train": {"class_type": "SDEDragIdentityLoRA", "inputs": {
                 "model": ["model", 0], "positive": ["pos", 0], "latent": ["batch", 0], "rank": RANK,
                 "steps": STEPS, "learning_rate": LR, "seed": SEED}},
             "save": {"class_type": "SDEDragSaveLoRA", "inputs": {
                 "model": ["train", 0], "filename": f"../test_identity_lora_{family}"}}}
        graphs.capture(g, "base", ["model", 0])
        graphs.capture(g, "lora_model", ["train", 0])
        graphs.capture(g, "lora_name", ["save", 0])
        graphs.capture(g, "latent", ["latent", 0])
        from harness import tiny_models as tm

        result = host.run(g)
        assert result.ok, result
        cap = tm.CAPTURED
        path = os.path.join(folder_paths.get_folder_paths("loras")[0], cap["lora_name"])
        saved.append(path)
        results[family] = dict(base=cap["base"], lora_model=cap["lora_model"], lora_name=cap["lora_name"],
                               path=path, before=before, latent=cap["latent"]["samples"],
                               cond=tiny_models.conditioning(family, 1))
        return results[family]

    yield get
    for path in saved:
        if os.path.exists(path):
            os.remove(path)
    results.clear()  # drop our ModelPatchers before interpreter shutdown (their __del__ needs ComfyUI)
    tiny_models.CAPTURED.clear()
    _TRAINABLE.clear()


@pytest.mark.parametrize("family", LORA_FAMILIES)
def test_training_lowers_the_loss_and_leaves_the_input_model_bit_identical(trained, family):
    t = trained(family)
    x0 = t["base"].model.process_latent_in(t["latent"].clone())
    pairs = fixed_pairs(t["base"])
    before = loss_on(t["base"], t["cond"], x0, pairs)
    after = loss_on(t["lora_model"], t["cond"], x0, pairs)
    print(f"{family}: loss on 8 fixed (t, noise) pairs {before:.4f} -> {after:.4f} "
          f"({100 * (1 - after / before):.0f}% lower; rank {RANK}, {STEPS} steps, lr {LR}, batch {BATCH})")
    assert after <= 0.7 * before
    now = t["base"].model.state_dict()
    assert set(now) == set(t["before"])
    assert all(torch.equal(now[k], t["before"][k]) for k in now)
    assert not t["base"].get_all_wrappers("apply_model"), "the input MODEL must carry no LoRA"


@pytest.mark.parametrize("family", LORA_FAMILIES)
def test_the_saved_lora_reloaded_by_the_core_loader_matches_the_trained_model(host, trained, family):
    import safetensors.torch

    t = trained(family)
    name = t["lora_name"]
    assert name.startswith(f"test_identity_lora_{family}") and name.endswith(".safetensors"), name
    keys = safetensors.torch.load_file(t["path"]).keys()
    assert keys and all(k.startswith("diffusion_model.") and k.rsplit(".", 2)[-2:] in (
        ["lora_A", "weight"], ["lora_B", "weight"]) or k.endswith(".alpha") for k in keys)
    with torch.inference_mode():
        reloaded = host.nodes.LoraLoaderModelOnly().load_lora_model_only(t["base"], name, 1.0)[0]
    assert len(reloaded.patches) == len(keys) // 3
    x0 = t["base"].model.process_latent_in(t["latent"].clone())
    sigma, noise = fixed_pairs(t["base"], count=4, seed=5)
    x0 = x0.expand(4, -1, -1, -1)
    ours = denoised(t["lora_model"], t["cond"], x0, sigma, noise)
    core = denoised(reloaded, t["cond"], x0, sigma, noise)
    base = denoised(t["base"], t["cond"], x0, sigma, noise)
    error = (ours - core).abs().max().item()
    print(f"{family}: reloaded vs trained max abs diff {error:.2e}; LoRA effect {(ours - base).abs().max():.3f}")
    assert error < 1e-4
    assert (ours - base).abs().max() > 1e-2


def test_a_second_save_never_overwrites_and_names_stay_inside_the_folder(host, trained):
    import folder_paths

    t = trained("eps")
    lora_train = _lora_module(host)
    folder = folder_paths.get_folder_paths("loras")[0]
    lora = lora_train.find_identity_lora(t["lora_model"])
    paths = [lora_train.save_lora(lora, folder, "a/../../b\x00c" + "x" * 300) for _ in range(2)]
    try:
        assert paths[0] != paths[1]
        for p in paths:
            assert os.path.dirname(os.path.realpath(p)) == os.path.realpath(folder)
            assert len(os.path.basename(p)) <= lora_train.MAX_STEM + len("_00001.safetensors")
        assert os.path.basename(paths[1]).endswith("_00001.safetensors")
        assert lora_train.safe_stem("..") == lora_train.DEFAULT_FILE_STEM
        assert lora_train.safe_stem("") == lora_train.DEFAULT_FILE_STEM
    finally:
        for p in paths:
            os.remove(p)


def _lora_module(host):
    return host.module("nodes.lora_train")


@pytest.mark.parametrize("family", LORA_FAMILIES)
def test_lora_scale_zero_is_the_base_model_and_one_the_lora_model(host, trained, family):
    lt = _lora_module(host)
    t = trained(family)
    lora = lt.find_identity_lora(t["lora_model"])
    x0 = t["base"].model.process_latent_in(t["latent"].clone()).expand(2, -1, -1, -1)
    sigma, noise = fixed_pairs(t["base"], count=2, seed=3)
    outs = {s: denoised(lt.with_identity_lora(t["base"], lora.with_scale(s)), t["cond"], x0, sigma, noise)
            for s in (0.0, 1.0)}
    assert torch.equal(outs[0.0], denoised(t["base"], t["cond"], x0, sigma, noise))
    assert torch.equal(outs[1.0], denoised(t["lora_model"], t["cond"], x0, sigma, noise))
    assert lora.scale == 1.0  # with_scale made copies


def _drag(host, t, lora_scale_min, monkeypatch, points="32,32 -> 32,32", alpha=1.0, beta=1.0, steps=10):
    """SDE Drag on the trained model, recording (sigma, scale) of every LoRA-carrying model call."""
    lt = _lora_module(host)
    drag_mod = host.module("nodes.drag")
    points_mod = host.module("nodes.points_format")
    seen = []
    original = lt.IdentityLoRA.scale_for

    def spy(self, sigma):
        value = original(self, sigma)
        seen.append((sigma, value))
        return value

    monkeypatch.setattr(lt.IdentityLoRA, "scale_for", spy)
    neg = tiny_models.conditioning(t.get("family", "eps"), 2)
    with torch.inference_mode():
        out, _ = drag_mod.SDEDragAllInOne.execute(
            t["lora_model"], t["cond"], {"samples": t["latent"].clone()}, points_mod.parse_drag_points(points),
            "sde", steps, 0.6, 3.0, 2, 2, alpha, beta, 7, negative=neg, lora_scale_min=lora_scale_min)
    return out["samples"], seen


@pytest.mark.parametrize("family", LORA_FAMILIES)
def test_cycle_sde_with_the_lora_ramp_reconstructs_the_input_and_follows_the_formula(host, trained, family,
                                                                                       monkeypatch):
    from sde_core import lora_scales

    t = dict(trained(family), family=family)
    out, seen = _drag(host, t, 0.5, monkeypatch)
    error = (out - t["latent"]).abs().max().item()
    per_step = []
    for sigma, scale in seen:  # one or more calls per step (cond/uncond), each at that step's sigma
        if not per_step or per_step[-1][0] != sigma:
            per_step.append((sigma, scale))
    expected = lora_scales(len(per_step), 0.5)
    print(f"{family}: ramp reconstruction max abs error {error:.2e}; scales "
          + " ".join(f"{s:.3f}" for _, s in per_step))
    assert error < 1e-4
    assert len(per_step) == 6  # round(0.6 * 10) steps below t0
    assert all(abs(s - e) < 1e-12 for (_, s), e in zip(per_step, expected))
    assert abs(per_step[0][1] - 0.5) < 1e-12 and per_step[-1][1] > 0.9


def test_the_ramp_changes_a_real_drag_and_scale_min_one_is_full_strength(host, trained, monkeypatch):
    t = dict(trained("eps"), family="eps")
    ramped, _ = _drag(host, t, 0.5, monkeypatch, points="24,24 -> 40,40", alpha=1.1, beta=0.3)
    full, seen = _drag(host, t, 1.0, monkeypatch, points="24,24 -> 40,40", alpha=1.1, beta=0.3)
    assert {s for _, s in seen} == {1.0}
    assert (ramped - full).abs().max() > 1e-4


def test_the_progress_bar_covers_the_loss_checks_before_and_after_training_not_only_the_steps(host, monkeypatch):
    """The updates of ComfyUI's progress bar against the
    node's model calls: the bar's total is every call (8 loss pairs before, the steps, 8 after),
    it moves after each one, and it reaches its end only after the last call."""
    import comfy.utils

    import graphs

    host.register({"TestTrainableTinyModel": TestTrainableTinyModel})
    lora_train, lora_node = host.module("nodes.lora_train"), host.module("nodes.lora")
    log = []
    # The pack's own updates of ComfyUI's ProgressBar, not what the hook forwards: newer hosts
    # (0.1x+) throttle what they send to the browser by time.
    real_update = comfy.utils.ProgressBar.update_absolute

    def logged_update(self, value, total=None, preview=None):
        log.append(("progress", min(value, self.total if total is None else total),
                    self.total if total is None else total))
        return real_update(self, value, total, preview)

    monkeypatch.setattr(comfy.utils.ProgressBar, "update_absolute", logged_update)
    real_loss = lora_train.denoising_loss
    monkeypatch.setattr(lora_train, "denoising_loss", lambda *a, **k: (log.append(("call",)), real_loss(*a, **k))[1])
    steps = 3
    g = {"model": {"class_type": "TestTrainableTinyModel", "inputs": {"family": "eps"}},
         "pos": {"class_type": "TestConditioning", "inputs": {"family": "eps", "seed": 1}},
         "latent": {"class_type": "TestPatternLatent", "inputs": {
             "width": SIZE, "height": SIZE, "batch": 1, "seed": 0, "patch_x": -1, "patch_y": -1, "patch_radius": 3}},
         "train": {"class_type": "SDEDragIdentityLoRA", "inputs": {
             "model": ["model", 0], "positive": ["pos", 0], "latent": ["latent", 0], "rank": 1, "steps": steps,
             "learning_rate": LR, "seed": SEED}}}
    graphs.capture(g, "lora_model", ["train", 0])
    result = host.run(g)
    assert result.ok, result
    calls = sum(1 for e in log if e[0] == "call")
    progress = [e for e in log if e[0] == "progress"]
    total = steps + 2 * lora_node.LOSS_PAIRS
    print(f"Identity LoRA, {steps} steps: {calls} model calls, {len(progress)} progress events, bar total "
          f"{progress[-1][2]}")
    assert calls == total
    assert [(v, t) for _, v, t in progress] == [(i, total) for i in range(1, total + 1)]
    assert log[-1][0] == "progress"  # the bar's end comes after the last model call
    # every call is followed by its own step of the bar
    assert all(log[i][0] == "call" and log[i + 1][0] == "progress" for i in range(0, len(log), 2))


def test_on_a_dit_the_lora_trains_the_fused_attention_projections_and_the_core_loader_reads_them(host):
    """Flux has no to_q/to_k/to_v/to_out.0: the LoRA goes on qkv/proj (double blocks) and linear1/linear2
    (single blocks), in the key format ComfyUI's LoraLoader maps onto the diffusion model."""
    import comfy.lora
    import folder_paths
    import graphs
    import safetensors
    from test_nodes_guidance import TestTinyFlux

    host.register({"TestTinyFlux": TestTinyFlux})
    g = {"flux": {"class_type": "TestTinyFlux", "inputs": {"guidance_embed": True}},
         "guided": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["flux", 1], "guidance": 3.5}},
         "latent": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
         "train": {"class_type": "SDEDragIdentityLoRA", "inputs": {
             "model": ["flux", 0], "positive": ["guided", 0], "latent": ["latent", 0], "rank": 2, "steps": 2,
             "learning_rate": 1e-3, "seed": 1}},
         "save": {"class_type": "SDEDragSaveLoRA", "inputs": {"model": ["train", 0],
                                                              "filename": "test_identity_lora_flux"}}}
    graphs.capture(g, "lora_name", ["save", 0])
    graphs.capture(g, "flux", ["flux", 0])
    from harness import tiny_models as tm

    result = host.run(g)
    assert result.ok, result
    path = os.path.join(folder_paths.get_folder_paths("loras")[0], tm.CAPTURED["lora_name"])
    try:
        with safetensors.safe_open(path, "pt") as f:
            keys, metadata = set(f.keys()), f.metadata()
        layers = {k.rsplit(".lora_", 1)[0] for k in keys if ".lora_A." in k}
        assert {"diffusion_model.double_blocks.0.img_attn.qkv", "diffusion_model.double_blocks.0.txt_attn.proj",
                "diffusion_model.single_blocks.0.linear1", "diffusion_model.single_blocks.0.linear2"} <= layers
        assert metadata["target_modules"] == "linear1,linear2,proj,qkv"
        key_map = comfy.lora.model_lora_keys_unet(tm.CAPTURED["flux"].model, {})
        assert all(layer in key_map for layer in layers), sorted(layers - set(key_map))[:3]
    finally:
        os.remove(path)


def test_training_copies_no_weight_of_a_model_loaded_as_comfyui_loads_it_and_survives_the_0_4_model_config(
        host, monkeypatch):
    """ComfyUI loads checkpoints under torch.inference_mode(), so real weights are inference tensors
    (autograd refuses to save them); and from ComfyUI 0.4.0 a model config answers None for any missing
    attribute (`supported_models_base.BASE.__getattr__`), which broke `copy.deepcopy(model.model)`.
    Training must work on such a model in place: every parameter and buffer afterwards is the very
    same object, memory and value, still an inference tensor; no peft layer is left; nothing was copied."""
    import comfy.model_patcher
    import comfy.supported_models_base

    lora_train = host.module("nodes.lora_train")

    def missing_is_none(self, name):  # ComfyUI 0.4.0's model config
        return None

    with torch.inference_mode():
        inner = tiny_models.base_model("eps", damped=False)
    monkeypatch.setattr(comfy.supported_models_base.BASE, "__getattr__", missing_is_none, raising=False)
    assert all(p.is_inference() for p in inner.parameters())
    assert inner.model_config.__setstate__ is None  # what made deepcopy fail
    cpu = torch.device("cpu")
    model = comfy.model_patcher.ModelPatcher(inner, load_device=cpu, offload_device=cpu)
    tensors = {k: (v, v.data_ptr(), v.clone()) for k, v in inner.state_dict(keep_vars=True).items()}
    module_types = {name: type(m) for name, m in inner.named_modules()}
    with torch.inference_mode():
        x0 = image_latent().expand(BATCH, -1, -1, -1).clone()
        cond = tiny_models.conditioning("eps", 1)
    pairs = lora_train.fixed_pairs(x0, lora_train.schedule_sigmas(inner), 4, 7)
    lora, info = lora_train.train_identity_lora(model, x0, cond, rank=RANK, steps=20, learning_rate=LR, seed=SEED,
                                                loss_pairs=pairs)
    assert info["tensors_copied"] == 0
    assert info["loss_after"] < info["loss_before"]
    assert any(float(b.abs().max()) > 0 for _, b in lora.weights.values())  # B starts at 0: it trained
    now = inner.state_dict(keep_vars=True)
    assert set(now) == set(tensors)
    for k, (obj, ptr, value) in tensors.items():
        assert now[k] is obj and now[k].data_ptr() == ptr and now[k].is_inference() == obj.is_inference(), k
        assert torch.equal(now[k], value), k
    assert {name: type(m) for name, m in inner.named_modules()} == module_types
    assert "peft_config" not in inner.diffusion_model.__dict__


def test_training_raises_the_hosts_in_training_flag_for_its_steps_only(host, monkeypatch):
    """Newer hosts keep fused inference-only kernels (Flux's comfy_kitchen RoPE, which has no
    backward) unless `comfy.model_management.in_training` is set, as ComfyUI's own training node
    sets it. The flag is up for every training step and back to what it was afterwards."""
    import comfy.model_management

    lora_train = host.module("nodes.lora_train")
    monkeypatch.setattr(comfy.model_management, "in_training", False, raising=False)
    seen = []
    real_loss = lora_train.denoising_loss
    monkeypatch.setattr(lora_train, "denoising_loss",
                        lambda *a, **k: (seen.append(comfy.model_management.in_training), real_loss(*a, **k))[1])
    x0 = image_latent().expand(2, -1, -1, -1).clone()
    lora_train.train_identity_lora(trainable_model("eps"), x0, tiny_models.conditioning("eps", 1), rank=1, steps=3,
                                   learning_rate=LR, seed=SEED)
    assert seen == [True, True, True]
    assert comfy.model_management.in_training is False
