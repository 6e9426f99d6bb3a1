"""Fuzzed inputs for the pure parts: the DRAG_POINTS parser, sde_core's validators and the
node adapters (mask, latent, sigmas). Each case either returns a well-formed value or raises
ValueError naming the input; never another exception, never a non-finite value from finite
inputs. Fixed seeds (derandomize) so a failure reproduces; a few hundred cases each, seconds.
"""
import importlib.util
import time
import json
import math
import sys
from pathlib import Path

import core_problems  # noqa: F401  (puts the repo root on sys.path)
from core_problems import one_thread  # noqa: F401  (autouse)
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sde_core

REPO = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=120)


def _load_points_format():
    """nodes/points_format.py is plain Python: load it by path (the nodes package imports ComfyUI)."""
    name = "sde_drag_points_format_under_test"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "nodes" / "points_format.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


pf = _load_points_format()


def _well_formed(points):
    assert isinstance(points, pf.DragPoints)
    assert 1 <= len(points.pairs) <= pf.MAX_PAIRS
    for pair in points.pairs:
        for x, y in pair:
            assert math.isfinite(x) and math.isfinite(y)
            assert abs(x) <= pf.MAX_COORD and abs(y) <= pf.MAX_COORD
    if points.width is not None:
        assert isinstance(points.width, int) and points.width >= 1
        assert isinstance(points.height, int) and points.height >= 1


def _parse_or_value_error(text):
    try:
        points = pf.parse_drag_points(text)
    except ValueError as e:
        assert "drag_points" in str(e), str(e)
        return None
    _well_formed(points)
    return points


# ---- DRAG_POINTS: arbitrary text --------------------------------------------------------------

TEXT_ALPHABET = st.sampled_from(list("0123456789.,-+eE ->;\n()[]{}\":xXsizetoNaInf#\x00\\/") + ["١", "½", "é"])


@FUZZ
@given(st.text(TEXT_ALPHABET, max_size=80) | st.text(max_size=60))
def test_arbitrary_text_parses_or_names_drag_points(text):
    _parse_or_value_error(text)


# Long runs where a backtracking pattern would go quadratic: whitespace between any two tokens,
# digits, parentheses, arrows; up to just under the text limit.
RUN = st.sampled_from([" ", "\t", "1", "(", ")", ",", "->", " -> ", "1,2 -> ", "e", "size "])
LONG_TEXTS = st.builds(lambda head, run, n, tail: head + run * n + tail,
                       st.text(TEXT_ALPHABET, max_size=12), RUN, st.integers(1000, 12_000),
                       st.text(TEXT_ALPHABET, max_size=12))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(LONG_TEXTS)
def test_long_adversarial_texts_parse_or_name_drag_points_in_linear_time(text):
    started = time.perf_counter()
    _parse_or_value_error(text[:pf.MAX_TEXT_CHARS])
    assert time.perf_counter() - started < 1.0  # the old parser took 6 s on 8,000 spaces


def test_a_one_megabyte_text_is_refused_at_once_naming_the_limit():
    """ComfyUI accepts 100 MB prompts and the parse holds Python's global lock (no HTTP answer, no
    /interrupt while it runs): a text far beyond any point list is refused before it is read."""
    text = "1,2 -> " + " " * (1 << 20) + "x"
    started = time.perf_counter()
    with pytest.raises(ValueError) as info:
        pf.parse_drag_points(text)
    assert time.perf_counter() - started < 1.0
    assert str(info.value).startswith("drag_points: the text is 1,048,584 characters, more than the 65,536")


@pytest.mark.parametrize("text", [
    "1,2 -> " + " " * 60_000 + "x",                      # 93 s at 32,000 before
    "size" + " " * 60_000 + "512 x 512\n1,2 -> 3,4x",
    "(" * 60_000 + "1,2 -> 3,4",
    "1" * 60_000 + ",2 -> 3,4",
    "1,2" + " ->" * 20_000,
])
def test_texts_just_under_the_limit_are_read_within_a_second(text):
    assert len(text) <= pf.MAX_TEXT_CHARS
    started = time.perf_counter()
    _parse_or_value_error(text)
    assert time.perf_counter() - started < 1.0


def test_a_size_line_with_a_huge_number_is_the_packs_own_error():
    """int() of more than 4,300 digits raises Python's own ValueError text; the pack names the input."""
    with pytest.raises(ValueError) as info:
        pf.parse_drag_points("size " + "9" * 5000 + " x 512\n1,2 -> 3,4")
    assert str(info.value).startswith("drag_points: cannot read")


# ---- DRAG_POINTS: JSON of every shape ------------------------------------------------------------

NUMBERS = (st.integers(-10**400, 10**400) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([0, -1, 1, 2**53, 1e308, -0.0, 65536, 65535.5]))
SCALARS = NUMBERS | st.text(max_size=5) | st.booleans() | st.none()
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.sampled_from(["points", "width", "height", "x", "y", "z"]), inner,
                                         max_size=4), max_leaves=30)
POINT = st.lists(NUMBERS, min_size=0, max_size=3) | st.fixed_dictionaries({"x": NUMBERS, "y": NUMBERS}) | SCALARS
PAIR = st.lists(POINT, min_size=0, max_size=3) | SCALARS
DOCUMENT = st.fixed_dictionaries({"points": st.lists(PAIR, max_size=6) | JSONISH},
                                 optional={"width": NUMBERS | SCALARS, "height": NUMBERS | SCALARS})


def _dumps(data):
    return json.dumps(data, allow_nan=True)  # NaN/Infinity literals, as a hand-edited workflow may hold


@FUZZ
@given(DOCUMENT | JSONISH)
def test_json_of_any_nesting_parses_or_names_drag_points(data):
    try:
        text = _dumps(data)
    except ValueError:  # an integer json itself refuses to write; nothing to parse
        return
    _parse_or_value_error(text)


COORD = st.floats(-100, 5000, allow_nan=False, allow_infinity=False)


@FUZZ
@given(st.lists(st.tuples(st.tuples(COORD, COORD), st.tuples(COORD, COORD)), min_size=1, max_size=20),
       st.one_of(st.none(), st.tuples(st.integers(1, 4096), st.integers(1, 4096))))
def test_what_the_widget_writes_round_trips(pairs, size):
    points = pf.DragPoints(tuple(pairs), *(size or (None, None)))
    again = pf.parse_drag_points(points.to_json())
    assert again == points
    # and the text form reads the same numbers
    text = "\n".join(f"{s[0]!r},{s[1]!r} -> {t[0]!r},{t[1]!r}" for s, t in pairs)
    if size:
        text += f"\nsize {size[0]} x {size[1]}"
    assert pf.parse_drag_points(text) == points


@pytest.mark.parametrize("text,message", [
    ('{"points": [[[%s, 1], [2, 3]]]}' % ("9" * 400), "finite number"),
    ('{"points": [[[1, 1], [2, 3]]], "width": %s, "height": 4}' % ("9" * 400), "finite number"),
    ('{"points": [[[1, 1], [2, 3]]], "width": -64, "height": 64}', "positive whole number"),
    ('{"points": [[[1, 1], [2, 3]]], "width": 64.5, "height": 64}', "positive whole number"),
    ('{"points": [[[NaN, 1], [2, 3]]]}', "finite"),
    ('{"points": [[[Infinity, 1], [2, 3]]]}', "finite"),
    ('{"points": [[["1", 1], [2, 3]]]}', "must be a number"),
    ('{"points": [[[true, 1], [2, 3]]]}', "must be a number"),
    ('{"points": [[1, 2], [3, 4]]}', "pair 1"),
    ('{"points": [[[[1, 2]], [3, 4]]]}', "pair 1 source"),
    ('{"points": "48,48 -> 80,80"}', "must be a list"),
    ("[" * 60_000, "malformed JSON"),
    ("[" * 100_000, "more than the 65,536 this node reads"),
    ('{"points": [' + ",".join(["[[1, 1], [2, 2]]"] * 300) + "]}", "more than the 256"),
    ('{"points": [' + ",".join(["[[1, 1], [2, 2]]"] * 5000) + "]}", "more than the 65,536 this node reads"),
    ("\n".join(["1,1 -> 2,2"] * 3000), "more than the 256"),
    ("1,1 -> 2,2\n<img src=x onerror=alert(1)>", "cannot read"),
    ("1e999,1 -> 2,2", "finite number"),
])
def test_hostile_points_are_refused_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match="drag_points") as info:
        pf.parse_drag_points(text)
    assert message in str(info.value), str(info.value)


@FEW
@given(st.integers(1, 256), st.integers(1, 4096), st.integers(1, 4096))
def test_many_points_on_odd_sized_images_scale_inside(n, width, height):
    pairs = tuple(((i % width, (i * 7) % height), ((i * 3) % width, (i * 5) % height)) for i in range(n))
    points = pf.DragPoints(pairs, width, height)
    for w, h in ((width * 2 + 1, height * 3 + 1), (max(width // 3, 1), max(height // 5, 1))):
        scaled = points.scaled_to(w, h)
        scaled.check_inside(w, h)  # points inside the picked-on picture stay inside the scaled one


# ---- sde_core validators -------------------------------------------------------------------------

ANYTHING = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**30, 10**30) | st.text(max_size=4)
            | st.none() | st.booleans() | st.lists(st.floats(-2, 2), max_size=3) | st.complex_numbers(max_magnitude=2))


SCALAR_CHECKS = {  # input name -> (its check, what an accepted value satisfies)
    "t0": (sde_core.check_t0, lambda t0: isinstance(t0, float) and 0 < t0 <= 1),
    "steps": (sde_core.check_steps, lambda steps: isinstance(steps, int) and steps >= 1),
}


@pytest.mark.parametrize("name", SCALAR_CHECKS)
@FUZZ
@given(value=ANYTHING)
def test_a_scalar_check_returns_a_valid_value_or_refuses_naming_its_input(name, value):
    check, valid = SCALAR_CHECKS[name]
    try:
        accepted = check(value)
    except ValueError as e:
        assert name in str(e)
    else:
        assert valid(accepted), accepted


SIGMA_LISTS = st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=6)


@FUZZ
@given(SIGMA_LISTS, st.booleans())
def test_check_sigmas(values, ends_at_zero):
    try:
        sigmas = sde_core.check_sigmas(torch.tensor(values, dtype=torch.float32), ends_at_zero=ends_at_zero)
    except ValueError as e:
        assert "sigmas" in str(e)
    else:
        assert torch.isfinite(sigmas).all() and (sigmas >= 0).all() and (sigmas[1:] < sigmas[:-1]).all()


POINT_VALUES = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-50, 50)
POINT_LISTS = st.lists(st.lists(POINT_VALUES, min_size=0, max_size=3), max_size=4) | st.lists(POINT_VALUES, max_size=3)


@FUZZ
@given(POINT_LISTS, POINT_LISTS, st.integers(1, 40), st.integers(1, 40))
def test_check_points(sources, targets, height, width):
    try:
        src, tgt = sde_core.check_points(sources, targets, height, width)
    except ValueError as e:
        assert "sources" in str(e) or "targets" in str(e), str(e)
    else:
        assert src.shape == tgt.shape and src.shape[1] == 2
        assert ((src[:, 0] >= 0) & (src[:, 0] < width) & (src[:, 1] >= 0) & (src[:, 1] < height)).all()


DTYPES = st.sampled_from([torch.float32, torch.float16, torch.float64, torch.bool, torch.uint8, torch.int64])
SHAPES = st.lists(st.integers(0, 5), min_size=0, max_size=5)


def _tensor(shape, dtype, fill, poison):
    if dtype == torch.bool:
        t = torch.ones(shape, dtype=dtype)
    elif dtype.is_floating_point:
        t = torch.full(shape, fill, dtype=dtype)
        if poison is not None and t.numel():
            t.view(-1)[0] = poison
    else:
        t = torch.full(shape, int(max(min(fill, 100), 0)), dtype=dtype)
    return t


def _poisoned(t):
    return t.is_floating_point() and not torch.isfinite(t).all()


POISON = st.none() | st.sampled_from([math.nan, math.inf, -math.inf])


@FUZZ
@given(SHAPES, DTYPES, st.floats(-3, 3), POISON, st.integers(1, 3), st.integers(1, 5), st.integers(1, 5))
def test_check_mask(shape, dtype, fill, poison, batch, height, width):
    mask = _tensor(shape, dtype, fill, poison)
    try:
        out = sde_core.check_mask(mask, (batch, 4, height, width))
    except ValueError as e:
        assert "mask" in str(e)
    else:
        assert out.ndim == 4 and out.shape[-2:] == (height, width) and torch.isfinite(out.float()).all()


@FUZZ
@given(SHAPES, DTYPES, POISON)
def test_check_latent_refuses_nan_and_inf(shape, dtype, poison):
    x = _tensor(shape, dtype, 0.5, poison)
    try:
        sde_core.check_latent(x)
    except ValueError as e:
        assert "latent" in str(e)
        assert x.ndim != 4 or _poisoned(x)
    else:
        assert x.ndim == 4 and not _poisoned(x)


@FEW
@given(st.integers(1, 3), st.integers(1, 12), st.integers(1, 12), st.lists(st.tuples(
    st.integers(-2, 13), st.integers(-2, 13), st.integers(-2, 13), st.integers(-2, 13)), min_size=1, max_size=5),
    st.integers(0, 20), st.floats(0, 3), st.floats(0, 1), st.floats(0.1, 20))
def test_copy_paste_stays_finite_or_names_the_points(batch, height, width, pairs, r, alpha, beta, scale):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 4, height, width, generator=gen)
    noise = lambda shape: torch.randn(shape, generator=gen)  # noqa: E731  (fresh refill per pair)
    sources = [[p[0], p[1]] for p in pairs]
    targets = [[p[2], p[3]] for p in pairs]
    try:
        out = sde_core.copy_paste(x, sources, targets, r, alpha, beta, noise, scale)
    except ValueError as e:
        assert "sources" in str(e) or "targets" in str(e), str(e)
    else:
        assert out.shape == x.shape and torch.isfinite(out).all()


@FEW
@given(st.lists(st.tuples(st.floats(0, 200), st.floats(0, 200), st.floats(0, 200), st.floats(0, 200)),
                min_size=1, max_size=50), st.integers(1, 64))
def test_sub_drag_plans_stay_inside_and_end_at_the_targets(pairs, step_size):
    sources = torch.tensor([[p[0], p[1]] for p in pairs], dtype=torch.float64)
    targets = torch.tensor([[p[2], p[3]] for p in pairs], dtype=torch.float64)
    plan = sde_core.plan_subdrags(sources, targets, step_size)
    assert 1 <= len(plan) <= 200 / step_size * 1.5 + 2
    # the last sub-drag ends on the target cell (float rounding may land one cell off)
    assert (plan[-1][1] - targets.long()).abs().max() <= 1
    for src, tgt in plan:
        assert (src >= 0).all() and (src <= 201).all() and (tgt >= 0).all() and (tgt <= 201).all()


# ---- node adapters (need ComfyUI imported: the session's host) ------------------------------------

@pytest.fixture(scope="module")
def adapters(host):
    """The MASK/LATENT/SIGMAS adapters (nodes/model_space.py and nodes/masks.py)."""
    import types

    return types.SimpleNamespace(**vars(host.module("nodes.model_space")), mask_for=host.module("nodes.masks").mask_for)


@FUZZ
@given(st.lists(st.integers(0, 70), max_size=1)
       | st.builds(lambda lead, h, w: lead + [h, w], st.lists(st.integers(0, 4), max_size=3),
                   st.integers(0, 70), st.integers(0, 70)), DTYPES, st.floats(-5, 5), POISON,
       st.integers(1, 4), st.integers(1, 9), st.integers(1, 9))
def test_mask_adapter_gives_a_mask_in_0_1_or_names_the_mask(adapters, shape, dtype, fill, poison, batch, h, w):
    mask = _tensor(shape, dtype, fill, poison)
    try:
        m = adapters.mask_for(mask, (batch, 4, h, w), 8)
    except ValueError as e:
        assert str(e).startswith("mask"), str(e)
    else:
        assert m.shape[1:] == (1, h, w) and m.shape[0] in (1, batch)
        assert torch.isfinite(m).all() and (m >= 0).all() and (m <= 1).all()


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
@FUZZ
@given(SHAPES, DTYPES, POISON, st.sampled_from(["dict", "no samples", "not a dict", "nested"]))
def test_latent_adapter_refuses_nan_and_bad_shapes_naming_the_latent(adapters, shape, dtype, poison, kind):
    x = _tensor(shape, dtype, 0.25, poison)
    latent = {"dict": {"samples": x}, "no samples": {"noise_mask": x}, "not a dict": x,
              "nested": {"samples": torch.nested.nested_tensor([torch.zeros(4, 2, 2), torch.zeros(4, 3, 3)])}}[kind]
    try:
        out = adapters.latent_samples(latent)
    except ValueError as e:
        assert str(e).startswith("latent"), str(e)
    else:
        assert kind == "dict" and out.ndim == 4 and torch.isfinite(out).all()


@pytest.fixture(scope="module")
def limits(host):
    return host.module("nodes.limits")


@pytest.fixture(scope="module")
def tiny_eps_and_flow(host):
    from harness import tiny_models

    return {"eps": tiny_models.build("eps"), "flow": tiny_models.build("flow")}


@FUZZ
@given(st.sampled_from(["eps", "flow"]), SIGMA_LISTS | st.lists(st.floats(0, 20), max_size=5),
       st.integers(-3, 300), st.floats(-1, 2))
def test_sigma_choice_is_a_usable_schedule_or_names_the_input(adapters, limits, tiny_eps_and_flow, family, values,
                                                              steps, t0):
    model = tiny_eps_and_flow[family]
    sigmas = torch.tensor(values, dtype=torch.float32) if values else None
    try:
        out = adapters.choose_sigmas(model, sigmas, steps, t0)
    except ValueError as e:
        assert str(e).split(" ")[0].rstrip(":") in ("sigmas", "t0", "steps"), str(e)
    else:
        sde_core.check_sigmas(out, ends_at_zero=True)
        schedule = adapters.schedule_of(model)
        if schedule.a(float(out[0])) <= 0:  # rectified flow at sigma 1: no noised LATENT can carry it
            with pytest.raises(ValueError, match="t0/sigmas"):
                limits.check_representable(schedule, out)
