"""Dragging through ComfyUI's executor: content moves, errors name the input, nothing is mutated."""
import pytest
import torch

import graphs

R = 3  # patch half-size of the graphs, in latent cells


def _patch(x, cx, cy):
    return x[0, :, cy - R:cy + R, cx - R:cx + R].flatten()


def _corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm() + 1e-12))


def _all_in_one_single_subdrag(*args, **kw):
    return graphs.sde_drag(*args, step_size=8, **kw)


@pytest.mark.parametrize("method", ["sde", "ode"])
@pytest.mark.parametrize("build", [_all_in_one_single_subdrag, graphs.one_subdrag], ids=["all_in_one", "composable"])
def test_dragging_moves_the_source_patch_to_the_target(host, captured, method, build):
    """A random-weight model does not denoise: at t0 0.6 the noise copied with the patch
    dominates it (measured: correlation 0.14 after one SDE sub-drag). At t0 0.2 the patch
    outweighs its noise; content moving at the paper's t0 is shown on the trained demo model."""
    # a distinctive square at latent cell (6, 6) = pixel (48, 48); target cell (10, 10) = pixel (80, 80)
    graph = build("eps", method, points="48,48 -> 80,80", steps=20, t0=0.2, patch=(6, 6))
    result = host.run(graph)
    assert result.ok, result
    inp, out = captured["input"]["samples"], captured["output"]["samples"]
    source = _patch(inp, 6, 6)
    before, after = _corr(_patch(inp, 10, 10), source), _corr(_patch(out, 10, 10), source)
    print(f"{build.__name__}/{method}: correlation of the target square with the source patch "
          f"{before:.3f} before, {after:.3f} after")
    assert after > before + 0.2


def test_the_all_in_one_node_returns_one_frame_per_sub_drag(host, captured):
    # 4 cells at step_size 2: two sub-drags
    assert host.run(graphs.sde_drag("eps", points="48,48 -> 80,48", steps=6, step_size=2)).ok
    frames = captured["frames"]["samples"]
    assert frames.shape == (2, 4, 32, 32)
    assert torch.equal(frames[-1:], captured["output"]["samples"])


@pytest.mark.parametrize("family", ["v", "flow", "sdxl"])
def test_sde_drag_runs_on_every_model_family_with_a_latent_batch(host, captured, family):
    assert host.run(graphs.sde_drag(family, steps=4, batch=2, patch=(6, 6))).ok
    out = captured["output"]["samples"]
    assert out.shape == (2, 4, 32, 32) and out.isfinite().all()


BAD_INPUTS = [
    ("points outside the image", {"points": {"points": "48,48 -> 300,80"}}, "outside the 256x256 image"),
    ("malformed DRAG_POINTS JSON", {"points": {"points": '{"points": [[[1, 2], [3'}}, "malformed JSON"),
    ("empty point list", {"points": {"points": '{"points": []}'}}, "empty"),
]


@pytest.mark.parametrize("case,change,message", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_a_node_error_with_our_message_and_the_next_prompt_runs(host, captured, case, change, message):
    graph = graphs.sde_drag("eps", steps=4)
    for node, inputs in change.items():
        graph[node]["inputs"].update(inputs)
    result = host.run(graph)
    assert not result.ok
    assert message in result.error_message, result.error_message
    assert result.execution_error["node_type"].startswith("SDEDrag")
    assert host.run(graphs.sde_drag("eps", steps=4)).ok


def test_a_mask_of_the_wrong_size_names_the_mask(host):
    graph = graphs.one_subdrag("eps", "sde", mask_box=(0, 0, 8, 8))
    graph["mask"]["inputs"].update(width=100, height=30)
    result = host.run(graph)
    assert not result.ok and "mask: size 100x30" in result.error_message, result.error_message


# A 32x32 latent of a factor-8 model is a 256x256 image (docs/nodes.md "Errors", the MASK tooltip).
MASK_SIZES_ACCEPTED = [(256, 256), (32, 32), (263, 259)]  # image, latent, an uncropped image VAE Encode crops
MASK_SIZES_REFUSED = [(100, 100), (512, 512), (256, 128), (264, 256), (31, 32)]  # 100 and 512 were resized before


@pytest.mark.parametrize("size", MASK_SIZES_ACCEPTED, ids=[f"{w}x{h}" for w, h in MASK_SIZES_ACCEPTED])
def test_a_mask_of_the_image_or_the_latent_size_is_accepted(host, size):
    graph = graphs.one_subdrag("eps", "sde", steps=3, mask_box=(0, 0, 8, 8))
    graph["mask"]["inputs"].update(width=size[0], height=size[1])
    result = host.run(graph)
    assert result.ok, result


@pytest.mark.parametrize("size", MASK_SIZES_REFUSED, ids=[f"{w}x{h}" for w, h in MASK_SIZES_REFUSED])
@pytest.mark.parametrize("node", ["den", "drag"])
def test_a_mask_of_any_other_size_is_refused_naming_the_mask_and_the_sizes_accepted(host, size, node):
    if node == "drag":
        graph = graphs.sde_drag("eps", steps=3)
        graph["mask"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": size[0], "height": size[1]}}
        graph["drag"]["inputs"]["mask"] = ["mask", 0]
    else:
        graph = graphs.one_subdrag("eps", "sde", steps=3, mask_box=(0, 0, 8, 8))
        graph["mask"]["inputs"].update(width=size[0], height=size[1])
    result = host.run(graph)
    assert not result.ok
    message = result.error_message
    assert f"mask: size {size[0]}x{size[1]} does not fit" in message, message
    assert "256x256" in message and "32x32" in message, message


def test_t0_of_zero_is_refused_by_comfyuis_own_validation(host):
    graph = graphs.sde_drag("eps", steps=4, t0=0.0)
    result = host.run(graph)
    assert not result.ok and result.execution_error is None
    assert "drag" in result.node_errors and "t0" in repr(result.node_errors["drag"])


def test_nodes_do_not_mutate_their_input_latent(host, captured):
    graph = graphs.sde_drag("eps", steps=4, patch=(6, 6))
    assert host.run(graph).ok
    # The capture of the input happens in the same prompt: it must still equal a fresh pattern latent.
    fresh = graphs.base("eps", patch=(6, 6))
    fresh = {k: v for k, v in fresh.items() if k == "latent"}
    graphs.capture(fresh, "fresh", ["latent", 0])
    kept = captured["input"]["samples"].clone()
    assert host.run(fresh).ok
    assert torch.equal(kept, captured["fresh"]["samples"])


def test_every_node_of_the_pack_has_a_category_description_and_tooltips(host):
    for name, cls in host.node_classes.items():
        assert cls.CATEGORY.startswith("SDE Drag"), name
        assert getattr(cls, "DESCRIPTION", ""), name
        spec = cls.INPUT_TYPES()
        for group in ("required", "optional"):
            for input_name, declared in spec.get(group, {}).items():
                options = declared[1] if len(declared) > 1 else {}
                assert options.get("tooltip"), f"{name}.{input_name}"


@pytest.mark.parametrize("method,calls", [("sde", 2 * 4), ("ode", 2 * 4 * 2)])
def test_a_drag_says_its_plan_in_the_log_and_as_the_progress_bars_total_before_the_first_model_call(
        host, monkeypatch, caplog, method, calls):
    """4 cells at step_size 2 = 2 sub-drags; 6 steps at t0 0.6 keep 4; ODE-Drag adds an inversion call per step."""
    import logging

    import comfy.utils

    events = []
    # The node's own updates of ComfyUI's bar (newer hosts throttle what the hook forwards by time).
    real_update = comfy.utils.ProgressBar.update_absolute

    def logged_update(self, value, total=None, preview=None):
        total = self.total if total is None else total
        events.append((min(value, total), total, len(caplog.records)))
        return real_update(self, value, total, preview)

    monkeypatch.setattr(comfy.utils.ProgressBar, "update_absolute", logged_update)
    with caplog.at_level(logging.INFO):
        result = host.run(graphs.sde_drag("eps", method, points="48,48 -> 80,48", steps=6, step_size=2))
    assert result.ok, result
    plans = [i for i, r in enumerate(caplog.records) if r.getMessage().startswith("SDE Drag plan: ")]
    assert len(plans) == 1
    message = caplog.records[plans[0]].getMessage()
    steps = "2 sub-drags x 4 steps" + (" x 2 (inversion + denoising)" if method == "ode" else "")
    assert message == f"SDE Drag plan: {steps} = {calls} model calls", message
    assert events and all(total == calls for _, total, _ in events)
    assert [value for value, _, _ in events][-1] == calls and len(events) == calls
    assert events[0][2] > plans[0]  # the plan was logged before the bar's first step


def test_pixel_points_are_rounded_down_to_whole_cells_before_the_sub_drags_are_planned(host, caplog):
    """The authors' order (issue 16): (200, 200) -> (263, 263) px is (25, 25) -> (32, 32) cells,
    5 sub-drags at step_size 2; keeping fractional cells (32.875) planned 6."""
    import logging

    with caplog.at_level(logging.INFO):
        result = host.run(graphs.sde_drag("eps", points="200,200 -> 263,263", steps=2, step_size=2,
                                         width=40, height=40))  # a 320x320 image
    assert result.ok, result
    plans = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SDE Drag plan: ")]
    assert plans == ["SDE Drag plan: 5 sub-drags x 1 steps = 5 model calls"], plans


@pytest.mark.parametrize("method,rows", [("sde", 4), ("ode", 2)])
def test_comfyui_reserves_memory_for_the_rows_a_drag_step_really_sends(host, monkeypatch, caplog, method, rows):
    """SDE-Drag batches [edited; recorded] x [cond; uncond] = 4 rows per call, ODE-Drag 2; ComfyUI
    by itself would reserve for 2 (the LATENT's batch x cond/uncond). The memory ComfyUI is asked
    to free must be its own formula at the real rows, and the logged estimate must say so."""
    import logging

    import comfy.model_management

    asked = []
    real = comfy.model_management.load_models_gpu

    def spy(models, memory_required=0, *args, **kwargs):
        asked.append((models[0], memory_required))
        return real(models, memory_required, *args, **kwargs)

    monkeypatch.setattr(comfy.model_management, "load_models_gpu", spy)
    with caplog.at_level(logging.INFO):
        result = host.run(graphs.sde_drag("eps", method, points="48,48 -> 80,48", steps=6, step_size=8))
    assert result.ok, result
    model, reserved = asked[-1]
    assert reserved == pytest.approx(model.model.memory_required([rows, 4, 32, 32]), rel=1e-9)
    assert reserved > model.model.memory_required([2, 4, 32, 32]) or rows == 2
    estimates = [r.getMessage() for r in caplog.records if "memory estimate" in r.getMessage()]
    assert len(estimates) == 1 and f"activations of {rows} rows" in estimates[0], estimates


def test_the_memory_wrapper_passes_through_the_arguments_newer_hosts_add(host, monkeypatch):
    """From ComfyUI 0.14.0, `prepare_sampling` calls the PREPARE_SAMPLING wrappers as
    `executor.execute(model, noise_shape, conds, model_options=..., force_full_load=..., force_offload=...)`.
    Here the pinned host's `prepare_sampling` is replaced by one that calls them the newer way
    (its inner function takes and checks the new keywords), so a wrapper that does not pass them on fails
    the drag, as it failed every SDE Drag on ComfyUI 0.14+."""
    import comfy.patcher_extension
    import comfy.sampler_helpers
    import comfy.samplers

    inner = comfy.sampler_helpers._prepare_sampling
    seen = []

    def newer_inner(model, noise_shape, conds, model_options=None, force_full_load=False, force_offload=False):
        seen.append((list(noise_shape), force_full_load, force_offload))
        return inner(model, noise_shape, conds, model_options=model_options)

    def newer_prepare_sampling(model, noise_shape, conds, model_options=None, force_full_load=False,
                               force_offload=False):
        executor = comfy.patcher_extension.WrapperExecutor.new_executor(
            newer_inner, comfy.patcher_extension.get_all_wrappers(
                comfy.patcher_extension.WrappersMP.PREPARE_SAMPLING, model_options, is_model_options=True))
        return executor.execute(model, noise_shape, conds, model_options=model_options,
                                force_full_load=force_full_load, force_offload=force_offload)

    monkeypatch.setattr(comfy.sampler_helpers, "prepare_sampling", newer_prepare_sampling)
    result = host.run(graphs.sde_drag("eps", "sde", points="48,48 -> 80,48", steps=6, step_size=8))
    assert result.ok, result
    # batch 1 x [edited; recorded] = 2: the pack's wrapper scaled the shape and passed the flags on
    assert seen and all(shape[0] == 2 and not full and not offload for shape, full, offload in seen), seen
