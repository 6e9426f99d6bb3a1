"""Every pack node through ComfyUI's executor with hostile inputs: nothing it is given is
mutated (also after an error or a cancel), NaN/inf latents are refused naming `latent`,
batches of 1-4 and sizes not divisible by the latent factor run, numeric widgets at and
beyond their bounds either run or fail with ComfyUI's validation error / the pack's
ValueError naming the input, finite inputs never give NaN, a cancel stops the model calls,
oversized recordings fail fast with the size needed, and LoRA file names cannot escape.
"""
import math
import os
import time
from pathlib import Path

import pytest
import torch

import reliability_helpers as rel
from core_problems import one_thread  # noqa: F401  (autouse: one torch thread on a shared machine)
from harness import tiny_models

SIZE = 16  # latent cells (image 128 px): small and fast
STEPS, T0 = 4, 0.5  # 2 kept steps


@pytest.fixture(scope="module")
def h(host):
    host.register(rel.TEST_NODES)
    return host


@pytest.fixture(autouse=True)
def _forget_probed_values():
    yield
    rel.PROBED.clear()  # let ComfyUI free the models the probes saw


@pytest.fixture(scope="module")
def loras_folder(h, tmp_path_factory):
    """ComfyUI's loras folder, moved to a temporary directory for this module."""
    import folder_paths

    folder = tmp_path_factory.mktemp("loras")
    saved = folder_paths.folder_names_and_paths["loras"]
    folder_paths.folder_names_and_paths["loras"] = ([str(folder)], saved[1])
    yield folder
    folder_paths.folder_names_and_paths["loras"] = saved


def _probe(g, label, source):
    g[f"probe_{label}"] = {"class_type": "RelProbe", "inputs": {"value": source, "label": label}}
    return [f"probe_{label}", 0]


def base(family="eps", width=SIZE, height=SIZE, batch=1, poison="none", extras=True, mask=True, counted=None):
    """Model, conditionings, latent (and mask), each behind a probe; `counted` = (act_at, action)."""
    g = {"model_raw": {"class_type": "TestTinyModel", "inputs": {"family": family, "seed": 0}},
         "pos_raw": {"class_type": "TestConditioning", "inputs": {"family": family, "seed": 1}},
         "neg_raw": {"class_type": "TestConditioning", "inputs": {"family": family, "seed": 2}},
         "latent_raw": {"class_type": "RelLatent", "inputs": {"width": width, "height": height, "batch": batch,
                                                              "seed": 0, "poison": poison, "extras": extras}}}
    model = ["model_raw", 0]
    if counted is not None:
        g["counted"] = {"class_type": "RelCountedModel", "inputs": {
            "model": model, "act_at": counted[0], "action": counted[1], "log": ""}}
        model = ["counted", 0]
    refs = {"model": _probe(g, "model", model), "pos": _probe(g, "pos", ["pos_raw", 0]),
            "neg": _probe(g, "neg", ["neg_raw", 0]), "latent": _probe(g, "latent", ["latent_raw", 0])}
    if mask:
        g["mask_raw"] = {"class_type": "RelMask", "inputs": {"shape": f"1,{height * 8},{width * 8}", "fill": 0.75,
                                                             "dtype": "float32", "poison": "none"}}
        refs["mask"] = _probe(g, "mask", ["mask_raw", 0])
    return g, refs


def capture(g, label, source):
    g[f"cap_{label}"] = {"class_type": "TestCapture", "inputs": {"label": label, "value": source}}


def guider(g, refs, cfg=2.0):
    g["guider_raw"] = {"class_type": "CFGGuider", "inputs": {"model": refs["model"], "positive": refs["pos"],
                                                             "negative": refs["neg"], "cfg": cfg}}
    return _probe(g, "guider", ["guider_raw", 0])


POINTS = "40,40 -> 72,56"  # pixels of the 128x128 image; 4 cells, one sub-drag at step_size 8


def points(g, text=POINTS):
    g["points"] = {"class_type": "SDEDragPoints", "inputs": {"points": text}}
    return ["points", 0]


def inversion(g, refs, method="sde", steps=STEPS, t0=T0):
    if method == "sde":
        g["inv"] = {"class_type": "SDEDragStochasticInversion", "inputs": {
            "model": refs["model"], "latent": refs["latent"], "steps": steps, "t0": t0, "seed": 3}}
    else:
        g["inv"] = {"class_type": "SDEDragODEInversion", "inputs": {
            "model": refs["model"], "positive": refs["pos"], "latent": refs["latent"], "steps": steps, "t0": t0}}
    return _probe(g, "inv_latent", ["inv", 0]), _probe(g, "trajectory", ["inv", 1])


# ---- one graph per pack node: (graph, node id of the node under test) --------------------------------

def case_points(bad=False, **kw):
    g, refs = base(mask=False, **kw)
    g["image_raw"] = {"class_type": "EmptyImage", "inputs": {"width": 128, "height": 128, "batch_size": 1,
                                                             "color": 0}}
    g["points"] = {"class_type": "SDEDragPoints", "inputs": {
        "points": "40,40 -> 300,56" if bad else POINTS, "image": _probe(g, "image", ["image_raw", 0])}}
    capture(g, "out", ["points", 0])
    return g, "points"


def case_noise(bad=False, **kw):
    g, refs = base(mask=False, poison="nan" if bad else "none", **kw)
    g["node"] = {"class_type": "SDEDragNoise", "inputs": {"model": refs["model"], "latent": refs["latent"],
                                                          "steps": STEPS, "t0": T0, "seed": 1}}
    capture(g, "out", ["node", 0])
    return g, "node"


def case_stochastic_inversion(bad=False, **kw):
    g, refs = base(mask=False, poison="inf" if bad else "none", **kw)
    inversion(g, refs, "sde")
    capture(g, "out", ["inv", 0])
    return g, "inv"


def case_ode_inversion(bad=False, use_guider=False, **kw):
    g, refs = base(mask=False, counted=kw.pop("counted", (1, "raise") if bad else None), **kw)
    inversion(g, refs, "ode")
    g["inv"]["inputs"]["negative"] = refs["neg"]
    if use_guider:
        g["inv"]["inputs"]["guider"] = guider(g, refs)
    capture(g, "out", ["inv", 0])
    return g, "inv"


def case_copy_paste(bad=False, **kw):
    g, refs = base(mask=False, **kw)
    latent, trajectory = inversion(g, refs)
    g["node"] = {"class_type": "SDEDragCopyPaste", "inputs": {
        "latent": latent, "trajectory": trajectory, "drag_points": points(g, "40,40 -> 300,56" if bad else POINTS),
        "r": 2, "alpha": 1.1, "beta": 0.3, "seed": 2}}
    capture(g, "out", ["node", 0])
    return g, "node"


def case_all_in_one(bad=False, use_guider=False, method="sde", **kw):
    g, refs = base(counted=kw.pop("counted", (2, "raise") if bad else None), **kw)
    g["node"] = {"class_type": "SDEDragAllInOne", "inputs": {
        "model": refs["model"], "positive": refs["pos"], "negative": refs["neg"], "latent": refs["latent"],
        "drag_points": points(g), "method": method, "steps": STEPS, "t0": T0, "cfg": 2.0, "step_size": 8, "r": 2,
        "alpha": 1.1, "beta": 0.3, "seed": 5, "mask": refs["mask"]}}
    if use_guider:
        g["node"]["inputs"]["guider"] = guider(g, refs)
    capture(g, "out", ["node", 0])
    capture(g, "frames", ["node", 1])
    return g, "node"


def _denoise(kind, bad=False, use_guider=False, **kw):
    g, refs = base(counted=kw.pop("counted", (1, "raise") if bad else None), **kw)
    latent, trajectory = inversion(g, refs, "sde" if kind == "SDEDragCycleDenoise" else "ode")
    g["node"] = {"class_type": kind, "inputs": {
        "model": refs["model"], "latent": latent, "trajectory": trajectory, "positive": refs["pos"],
        "negative": refs["neg"], "cfg": 2.0, "mask": refs["mask"]}}
    if use_guider:
        g["node"]["inputs"]["guider"] = guider(g, refs)
        del g["node"]["inputs"]["positive"], g["node"]["inputs"]["negative"]
    capture(g, "out", ["node", 0])
    return g, "node"


def case_cycle_denoise(**kw):
    return _denoise("SDEDragCycleDenoise", **kw)


def case_ode_denoise(**kw):
    return _denoise("SDEDragODEDenoise", **kw)


def case_sampler(bad=False, **kw):
    g, refs = base(mask=False, counted=kw.pop("counted", (1, "raise") if bad else None), **kw)
    g["sampler"] = {"class_type": "SDEDragSampler", "inputs": {"eta": 1.0}}
    g["sched"] = {"class_type": "BasicScheduler", "inputs": {"model": refs["model"], "scheduler": "normal",
                                                             "steps": STEPS, "denoise": 0.5}}
    g["noise"] = {"class_type": "RandomNoise", "inputs": {"noise_seed": 1}}
    g["node"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
        "noise": ["noise", 0], "guider": guider(g, refs), "sampler": ["sampler", 0], "sigmas": ["sched", 0],
        "latent_image": refs["latent"]}}
    capture(g, "out", ["node", 0])
    return g, "sampler"


def case_fresh_denoise(bad=False, use_guider=False, **kw):
    g, refs = base(counted=kw.pop("counted", (1, "raise") if bad else None), **kw)
    g["node"] = {"class_type": "SDEDragFreshDenoise", "inputs": {
        "model": refs["model"], "latent": refs["latent"], "eta": 1.0, "steps": STEPS, "t0": T0, "seed": 1,
        "positive": refs["pos"], "negative": refs["neg"], "cfg": 2.0, "mask": refs["mask"]}}
    if use_guider:
        g["node"]["inputs"]["guider"] = guider(g, refs)
    capture(g, "out", ["node", 0])
    return g, "node"


def case_diffedit_mask(bad=False, **kw):
    g, refs = base(mask=False, counted=kw.pop("counted", (1, "raise") if bad else None), **kw)
    g["node"] = {"class_type": "SDEDragDiffEditMask", "inputs": {
        "model": refs["model"], "latent": refs["latent"], "source": refs["pos"], "target": refs["neg"],
        "strength": 0.5, "noises": 2, "threshold": 0.5, "blur": 0.0, "seed": 1, "negative": refs["neg"]}}
    capture(g, "out", ["node", 0])
    return g, "node"


def case_identity_lora(bad=False, **kw):
    g, refs = base(mask=False, poison="nan" if bad else "none", **kw)
    g["node"] = {"class_type": "SDEDragIdentityLoRA", "inputs": {
        "model": refs["model"], "positive": refs["pos"], "rank": 1, "steps": 2, "learning_rate": 1e-3, "seed": 1,
        "latent": refs["latent"]}}
    capture(g, "out", ["node", 0])
    return g, "node"


def case_save_lora(bad=False, **kw):
    g, refs = base(mask=False, **kw)
    if bad:  # a MODEL without an identity LoRA
        lora_model = refs["model"]
    else:
        g["train"] = {"class_type": "SDEDragIdentityLoRA", "inputs": {
            "model": refs["model"], "positive": refs["pos"], "rank": 1, "steps": 1, "learning_rate": 1e-3,
            "seed": 1, "latent": refs["latent"]}}
        lora_model = _probe(g, "lora_model", ["train", 0])
    g["node"] = {"class_type": "SDEDragSaveLoRA", "inputs": {"model": lora_model, "filename": "rel_probe"}}
    return g, "node"


CASES = {
    "SDEDragPoints": case_points, "SDEDragNoise": case_noise,
    "SDEDragStochasticInversion": case_stochastic_inversion, "SDEDragODEInversion": case_ode_inversion,
    "SDEDragCopyPaste": case_copy_paste, "SDEDragAllInOne": case_all_in_one,
    "SDEDragCycleDenoise": case_cycle_denoise, "SDEDragODEDenoise": case_ode_denoise,
    "SDEDragSampler": case_sampler, "SDEDragFreshDenoise": case_fresh_denoise,
    "SDEDragDiffEditMask": case_diffedit_mask, "SDEDragIdentityLoRA": case_identity_lora,
    "SDEDragSaveLoRA": case_save_lora,
}
GUIDER_CASES = ("SDEDragODEInversion", "SDEDragAllInOne", "SDEDragCycleDenoise", "SDEDragODEDenoise",
                "SDEDragFreshDenoise")
# Nodes with no input a user passes in (MODEL, GUIDER, LATENT, MASK, ...): nothing to mutate.
NO_INPUTS = {"SDEDragDemoLoader", "SDEDragLoadDragBenchCase"}


def _registered(h, name):
    assert name in h.node_classes, f"{name} has a reliability case but is not a node of the pack"


def test_every_pack_node_has_a_reliability_case(h):
    missing = sorted(set(h.node_classes) - set(CASES) - NO_INPUTS)
    assert not missing, f"pack nodes without a no-mutation case in {__file__}: {missing}"


def _assert_unchanged():
    assert rel.PROBED, "no probe ran"
    changed = [label for label, (value, before) in rel.PROBED.items() if rel.fingerprint(value) != before]
    assert not changed, f"inputs changed by the run: {changed}"


def _finite_outputs(captured):
    for label, value in captured.items():
        tensors = []
        if isinstance(value, dict):
            tensors = [v for v in value.values() if isinstance(v, torch.Tensor)]
        elif isinstance(value, torch.Tensor):
            tensors = [value]
        for t in tensors:
            assert torch.isfinite(t.float()).all(), f"{label} holds NaN/inf"


VARIANTS = [(name, False, False) for name in CASES] + [(name, True, False) for name in CASES] \
    + [(name, False, True) for name in GUIDER_CASES]


@pytest.mark.parametrize("name,bad,use_guider", VARIANTS,
                         ids=[f"{n}-{'error' if b else 'ok'}{'-guider' if g else ''}" for n, b, g in VARIANTS])
def test_no_input_is_mutated(h, captured, loras_folder, name, bad, use_guider):
    _registered(h, name)
    rel.PROBED.clear()
    kw = {"use_guider": True} if use_guider else {}
    graph, node = CASES[name](bad=bad, **kw)
    result = h.run(graph)
    if bad:
        assert not result.ok, f"{name}: the error variant ran"
        if result.execution_error:
            assert result.execution_error["node_id"] in (node, "node", "inv", "points"), result.execution_error
    else:
        assert result.ok, result
        _finite_outputs(captured)
    _assert_unchanged()


def test_a_cancel_during_a_drag_stops_the_model_calls_and_mutates_nothing(h, captured):
    """Cancel requested during model call 3 (as POST /interrupt does): that call finishes,
    no further call starts; then the same prompt gives the uninterrupted result bit for bit."""
    def drag(act_at):
        graph, node = case_all_in_one(counted=(act_at, "interrupt"))
        graph[node]["inputs"]["steps"] = 20  # 10 model calls
        return graph

    assert h.run(drag(0)).ok
    expected = captured["out"]["samples"].clone()
    assert len(rel.CALLS) == 10

    rel.PROBED.clear()
    result = h.run(drag(3))
    assert not result.ok and result.execution_error is None  # ComfyUI reports an interruption, not an error
    assert any(event == "execution_interrupted" for event, _ in result.events), [e for e, _ in result.events]
    started_after = sum(1 for _, after in rel.CALLS if after)
    print(f"cancel: {len(rel.CALLS)} model calls in all, interrupt during call 3, {started_after} started after it")
    assert len(rel.CALLS) == 3 and started_after == 0
    _assert_unchanged()

    assert h.run(drag(0)).ok
    assert torch.equal(captured["out"]["samples"], expected)


# ---- NaN / inf latents -------------------------------------------------------------------------------

LATENT_NODES = ["SDEDragNoise", "SDEDragStochasticInversion", "SDEDragODEInversion", "SDEDragAllInOne",
                "SDEDragFreshDenoise", "SDEDragDiffEditMask", "SDEDragIdentityLoRA", "SDEDragCopyPaste",
                "SDEDragCycleDenoise"]


@pytest.mark.parametrize("poison", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", LATENT_NODES)
def test_a_latent_holding_nan_or_inf_is_refused_naming_latent(h, name, poison):
    _registered(h, name)
    if name in ("SDEDragCopyPaste", "SDEDragCycleDenoise"):  # a poisoned latent at t0, beside a clean recording
        graph, node = CASES[name]()
        graph["bad_latent"] = {"class_type": "RelLatent", "inputs": {"width": SIZE, "height": SIZE, "batch": 1,
                                                                     "seed": 0, "poison": poison, "extras": False}}
        graph[node]["inputs"]["latent"] = ["bad_latent", 0]
    else:
        graph, node = CASES[name]()
        graph["latent_raw"]["inputs"]["poison"] = poison
    result = h.run(graph)
    assert not result.ok and result.execution_error, result
    err = result.execution_error
    assert err["node_type"] == name and err["exception_type"] == "ValueError", err
    assert "latent" in err["exception_message"] and ("NaN" in err["exception_message"]
                                                     or "inf" in err["exception_message"]), err


# ---- batches 1-4 and sizes not divisible by the latent factor ----------------------------------------

ODD = [(1, 13, 9, "sde"), (2, 17, 11, "ode"), (3, 7, 21, "sde"), (4, 9, 9, "sde"), (2, 5, 5, "sde")]


@pytest.mark.parametrize("batch,width,height,method", ODD)
def test_batches_and_odd_sizes_run_and_stay_finite(h, captured, batch, width, height, method):
    image_w, image_h = width * 8 + 5, height * 8 + 3  # not a multiple of 8: VAE Encode crops it to the latent
    text = f'{{"points": [[[{image_w * 0.3:.1f}, {image_h * 0.4:.1f}], [{image_w * 0.6:.1f}, {image_h * 0.5:.1f}]]],' \
           f' "width": {image_w}, "height": {image_h}}}'
    graph, node = case_all_in_one(width=width, height=height, batch=batch, method=method)
    graph["points"]["inputs"]["points"] = text
    graph["mask_raw"]["inputs"]["shape"] = f"1,{image_h},{image_w}"  # a mask of the odd image size
    result = h.run(graph)
    assert result.ok, result
    out = captured["out"]["samples"]
    assert out.shape == (batch, 4, height, width) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["SDEDragCycleDenoise", "SDEDragFreshDenoise", "SDEDragNoise"])
def test_other_nodes_take_odd_sizes_and_batches(h, captured, name):
    _registered(h, name)
    graph, _ = CASES[name](width=11, height=7, batch=3)
    if "mask_raw" in graph:
        graph["mask_raw"]["inputs"]["shape"] = "3,59,91"  # one mask per batch item, image size 91x59
    result = h.run(graph)
    assert result.ok, result
    _finite_outputs(captured)


# ---- numeric widgets at and beyond their bounds -------------------------------------------------------

BOUNDS_CASES = {"SDEDragAllInOne": case_all_in_one, "SDEDragNoise": case_noise,
                "SDEDragStochasticInversion": case_stochastic_inversion, "SDEDragODEInversion": case_ode_inversion,
                "SDEDragCopyPaste": case_copy_paste, "SDEDragCycleDenoise": case_cycle_denoise,
                "SDEDragSampler": case_sampler, "SDEDragFreshDenoise": case_fresh_denoise,
                "SDEDragDiffEditMask": case_diffedit_mask, "SDEDragIdentityLoRA": case_identity_lora}
# At the top of these ranges a node would run for minutes (10000 steps, 100 noises): there the
# value is paired with a cheap companion (t0 0.01 keeps 100 of 10000 steps).
COMPANIONS = {("steps", "max"): {"t0": 0.01}}
SLOW_AT_MAX = {("SDEDragIdentityLoRA", "steps"), ("SDEDragDiffEditMask", "noises"), ("SDEDragIdentityLoRA", "rank")}


def _numeric_widgets(h, name):
    spec = h.nodes.NODE_CLASS_MAPPINGS[name].INPUT_TYPES()
    out = []
    for group in ("required", "optional"):
        for input_name, declared in spec.get(group, {}).items():
            if declared[0] in ("INT", "FLOAT") and input_name != "seed":
                out.append((input_name, declared[0], declared[1]))
    return out


def _bound_values(kind, options):
    lo, hi = options.get("min"), options.get("max")
    values = []
    if lo is not None:
        values += [("min", lo), ("below", lo - (1 if kind == "INT" else 0.5))]
    if hi is not None:
        values += [("max", hi), ("above", hi + (1 if kind == "INT" else 0.5))]
    if kind == "FLOAT":
        values += [("nan", math.nan), ("inf", math.inf)]
    return values


def _target_node(graph, name):
    return next(k for k, v in graph.items() if v["class_type"] == name)


@pytest.mark.parametrize("name", list(BOUNDS_CASES))
def test_numeric_widgets_at_and_beyond_their_bounds(h, captured, name):
    _registered(h, name)
    checked = 0
    for input_name, kind, options in _numeric_widgets(h, name):
        for where, value in _bound_values(kind, options):
            if where == "max" and (name, input_name) in SLOW_AT_MAX:
                continue
            graph, _ = BOUNDS_CASES[name]()
            node = _target_node(graph, name)
            graph[node]["inputs"][input_name] = value
            for other, companion in COMPANIONS.get((input_name, where), {}).items():
                if other in graph[node]["inputs"]:
                    graph[node]["inputs"][other] = companion
            captured.clear()
            started = time.monotonic()
            result = h.run(graph)
            label = f"{name}.{input_name}={value!r} ({where})"
            assert time.monotonic() - started < 60, f"{label} took too long"
            if result.ok:
                assert where not in ("below", "above", "nan", "inf"), f"{label} was accepted"
                _finite_outputs(captured)
            elif result.node_errors:  # ComfyUI's validation, or the node's validate_inputs hook, names the input
                assert node in result.node_errors, (label, result.node_errors)
                assert input_name in repr(result.node_errors[node]), (label, result.node_errors)
                assert where in ("below", "above", "inf", "nan"), f"{label} refused by ComfyUI: {result.node_errors}"
                if kind == "FLOAT":  # the hook's message: "<input>: must be a finite number" / "... the minimum"
                    assert f"{input_name}: " in repr(result.node_errors[node]), (label, result.node_errors)
            else:
                err = result.execution_error
                assert err["exception_type"] == "ValueError", (label, err)
                message = err["exception_message"]
                assert input_name in message or where not in ("nan",), (label, message)
                assert where in ("nan", "min", "max"), f"{label}: {message}"
                if where in ("min", "max"):
                    print(f"{label}: refused with: {message}")
            checked += 1
    assert checked


def _linked_bad_values(kind, options):
    lo, hi = options.get("min"), options.get("max")
    values = []
    if lo is not None:
        values.append(("below", lo - 1 if kind == "INT" else lo - 0.5))
    if hi is not None:
        values.append(("above", hi + 1 if kind == "INT" else hi + 0.5))
    if kind == "FLOAT":
        values += [("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf)]
    else:
        values.append(("fraction", (lo or 0) + 1.5))
    return values


@pytest.mark.parametrize("name", list(BOUNDS_CASES))
def test_numeric_values_that_come_through_a_link_meet_the_widgets_bounds(h, captured, name):
    """ComfyUI checks min/max only on widget values: a linked NaN cfg gave NaN latents, a linked r 0
    a drag that moved nothing, a linked steps 10**9 a run without end. Every one is a ValueError
    naming the input, raised before any model call."""
    _registered(h, name)
    checked = 0
    for input_name, kind, options in _numeric_widgets(h, name):
        for where, value in _linked_bad_values(kind, options):
            graph, _ = BOUNDS_CASES[name]()
            node = _target_node(graph, name)
            graph["linked_number"] = {"class_type": "RelNumber",
                                      "inputs": {"text": repr(value), "whole": where in ("below", "above") and kind == "INT"}}
            graph[node]["inputs"][input_name] = ["linked_number", 0]
            captured.clear()
            started = time.monotonic()
            result = h.run(graph)
            label = f"{name}.{input_name} linked {value!r} ({where})"
            assert time.monotonic() - started < 60, f"{label} took too long"
            assert not result.ok and not result.node_errors, (label, result.node_errors)
            err = result.execution_error
            assert err["exception_type"] == "ValueError" and err["node_id"] == node, (label, err)
            assert err["exception_message"].startswith(f"{input_name}: "), (label, err["exception_message"])
            assert "link" in err["exception_message"], (label, err["exception_message"])
            checked += 1
    assert checked


def test_a_linked_combo_value_that_is_not_an_option_is_refused(h, captured):
    graph, node = case_all_in_one()
    graph["linked_method"] = {"class_type": "RelProbe", "inputs": {"value": "euler", "label": "method"}}
    graph[node]["inputs"]["method"] = ["linked_method", 0]
    result = h.run(graph)
    assert not result.ok and result.execution_error["exception_type"] == "ValueError", result.execution_error
    assert result.execution_error["exception_message"].startswith("method: 'euler' is not one of"), result.execution_error


def test_t0_of_one_on_a_flow_model_runs_and_sigma_one_is_a_clear_error_not_nan(h, captured):
    graph, node = case_all_in_one(family="flow")
    graph[node]["inputs"]["t0"] = 1.0
    assert h.run(graph).ok
    _finite_outputs(captured)
    # SIGMAS that start at 1 (pure noise for rectified flow): a noised LATENT cannot carry it
    for name, case in (("SDEDragAllInOne", case_all_in_one), ("SDEDragNoise", case_noise),
                       ("SDEDragStochasticInversion", case_stochastic_inversion)):
        graph, _ = case(family="flow")
        node = _target_node(graph, name)
        graph["full"] = {"class_type": "BasicScheduler", "inputs": {"model": ["model_raw", 0], "scheduler": "simple",
                                                                    "steps": 3, "denoise": 1.0}}
        graph[node]["inputs"]["sigmas"] = ["full", 0]
        result = h.run(graph)
        assert not result.ok and result.execution_error["exception_type"] == "ValueError", (name, result)
        assert "sigmas" in result.execution_error["exception_message"], result.execution_error


# ---- large inputs: the recording's size is checked before any heavy work ---------------------------------

def _fifty_pairs(image):
    pairs = [[[40 + 36 * (k % 10) + 3 * (k // 10), 40 + 300 * (k // 10)],
              [60 + 36 * (k % 10) + 3 * (k // 10), 48 + 300 * (k // 10)]] for k in range(50)]
    return '{"points": %s, "width": %d, "height": %d}' % (pairs, image, image)


def test_a_2048px_image_with_50_pairs_fails_fast_with_the_size_needed_when_memory_is_short(h, monkeypatch):
    import comfy.model_management

    monkeypatch.setattr(comfy.model_management, "get_free_memory", lambda *a, **k: 64 << 20)
    graph, node = case_all_in_one(width=256, height=256, counted=(0, "interrupt"))
    graph[node]["inputs"].update(steps=200, t0=0.6)  # the paper's defaults: 121 recorded latents
    graph["points"]["inputs"]["points"] = _fifty_pairs(2048)
    graph["mask_raw"]["inputs"]["shape"] = "1,64,64"
    started = time.monotonic()
    result = h.run(graph)
    elapsed = time.monotonic() - started
    assert not result.ok and result.execution_error["exception_type"] == "ValueError", result
    message = result.execution_error["exception_message"]
    print(f"2048x2048, 50 pairs, 64 MiB available: refused in {elapsed:.2f} s: {message}")
    assert "needs about" in message and "MiB" in message and "2048x2048" in message and "121 states" in message
    assert rel.CALLS == [], "a model call ran before the size check"
    assert elapsed < 10


def test_a_2048px_image_with_50_pairs_passes_the_checks_when_memory_suffices(h):
    """The same request with this machine's real memory: every check passes, the recording is
    made and the 50 pairs are pasted; the model's first call (stopped here by the test's
    wrapper, before the network runs) is reached within seconds."""
    graph, node = case_all_in_one(width=256, height=256, counted=(1, "raise"))
    graph[node]["inputs"].update(steps=200, t0=0.6)
    graph["points"]["inputs"]["points"] = _fifty_pairs(2048)
    graph["mask_raw"]["inputs"]["shape"] = "1,2048,2048"
    started = time.monotonic()
    result = h.run(graph)
    elapsed = time.monotonic() - started
    assert not result.ok and "injected failure" in result.error_message, result
    assert len(rel.CALLS) == 1
    print(f"2048x2048, 50 pairs, real memory: reached the first model call in {elapsed:.2f} s")
    assert elapsed < 60


def test_an_impossible_recording_fails_fast_on_this_machine(h):
    """No monkeypatching: 1000 steps of eight 8192 px images need about 250 GiB."""
    graph, node = case_stochastic_inversion(width=1024, height=1024, batch=8)
    graph[node]["inputs"].update(steps=1000, t0=1.0)
    started = time.monotonic()
    result = h.run(graph)
    assert not result.ok and result.execution_error["exception_type"] == "ValueError", result
    assert "needs about" in result.execution_error["exception_message"]
    assert time.monotonic() - started < 15
    print(result.execution_error["exception_message"])


def test_the_estimate_matches_a_real_recording():
    """trajectory_bytes is what record_forward actually holds (states and sigmas)."""
    import sde_core

    x = torch.zeros(2, 4, 24, 40)
    sigmas = torch.linspace(1.5, 0, 13)
    trajectory = sde_core.record_forward(x, sigmas, generator=torch.Generator().manual_seed(0))
    from importlib import util

    spec = util.spec_from_file_location("limits_math", Path(__file__).resolve().parents[1] / "nodes" / "limits.py")
    limits = util.module_from_spec(spec)
    spec.loader.exec_module(limits)
    assert limits.trajectory_bytes(x.shape, len(sigmas) - 1) == trajectory.states.numel() * 4


# ---- files: LoRA names cannot escape the loras folder, nothing is overwritten ------------------------------

HOSTILE_NAMES = ["../../x", "/abs/path", "a/../../b", "nul\x00name", "n" * 300, "..\\..\\win", "..", ".",
                 "", "   ", ".safetensors", "ok name.safetensors", "<img src=x onerror=alert(1)>", "ümlaut-名前",
                 "con", "a" * 100 + "/" + "b" * 250]


def _tree(root):
    return {str(p.relative_to(root)) for p in Path(root).rglob("*")}


def test_lora_file_names_stay_inside_the_loras_folder_and_never_overwrite(h, captured, loras_folder, tmp_path):
    import folder_paths

    base = Path(folder_paths.base_path)
    watched = [base, Path(__file__).resolve().parents[1], Path("/tmp")]
    before = {str(w): _tree(w) if w != Path("/tmp") else set(os.listdir("/tmp")) for w in watched}
    graph, node = case_save_lora()
    names = []
    for name in HOSTILE_NAMES + ["same", "same", "same"]:
        graph[node]["inputs"]["filename"] = name
        graph["cap"] = {"class_type": "TestCapture", "inputs": {"label": "name", "value": [node, 0]}}
        result = h.run(graph)
        if not result.ok:  # a clear error is allowed; it must name the file name
            assert "filename" in result.error_message, (name, result)
            continue
        saved = captured["name"]
        names.append((name, saved))
        path = loras_folder / saved
        assert path.is_file() and path.resolve().parent == loras_folder.resolve(), (name, saved)
        assert saved.endswith(".safetensors") and "\x00" not in saved and "/" not in saved and len(saved) <= 130
    saved_names = [s for _, s in names]
    assert len(saved_names) == len(set(saved_names)), f"a file was overwritten: {names}"
    assert [s for n, s in names if n == "same"] == ["same.safetensors", "same_00001.safetensors",
                                                   "same_00002.safetensors"]
    print("saved as:", [(n[:20], s[:40]) for n, s in names])
    for w in watched:
        after = _tree(w) if w != Path("/tmp") else set(os.listdir("/tmp"))
        new = after - before[str(w)]
        if w == Path("/tmp"):
            new = {n for n in new if not n.startswith(("pytest-", "tmp", "sde-drag-"))}
        assert not {n for n in new if "safetensors" in n or n in ("x", "b", "path", "win")}, (w, new)


@pytest.mark.parametrize("name", ["../../etc", "/etc", "a/../../b", "..", ".", "", "x\x00y", "..\\..\\x"])
def test_a_shared_workflow_cannot_point_the_case_loader_outside_its_folders(h, name):
    _registered(h, "SDEDragLoadDragBenchCase")
    graph = {"case": {"class_type": "SDEDragLoadDragBenchCase", "inputs": {"case": name}}}
    capture(graph, "out", ["case", 2])
    result = h.run(graph)  # ComfyUI's own check: the value is not one of the listed cases
    assert not result.ok and "case" in result.node_errors and result.execution_error is None, result
    with pytest.raises(ValueError, match="case"):  # and the node's own check, should it be reached
        h.module("nodes.dragbench").find_case(name)
