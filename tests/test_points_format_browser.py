"""The point editor reads the points text as the server does: the same texts go through the editor's
parser (web/points_format.js, the module the widget imports, run in Chromium) and through
nodes/points_format.py, and both must give the same pairs and size or both refuse. The cases are the
forms the server documents, their edges (limits, number forms, Python's whitespace, Unicode digits,
JSON constants, long texts) and a seeded fuzz of both grammars."""
from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import pytest

from harness import plain_module

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "web" / "points_format.js"
points_format = plain_module("nodes/points_format.py")  # plain Python: no ComfyUI import
MAX_COORD, MAX_PAIRS, MAX_TEXT_CHARS = points_format.MAX_COORD, points_format.MAX_PAIRS, points_format.MAX_TEXT_CHARS
parse_drag_points = points_format.parse_drag_points

PY_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())

CASES = [
    # The JSON forms: what the widget writes, a bare list, {x, y} points (issue 25.5), sizes given or not.
    '{"points": [[[20, 15], [50, 30]], [[70.5, 50], [40, 10.25]]], "width": 96, "height": 64}',
    '{"points": [[{"x": 20, "y": 15}, {"x": 50, "y": 30}]], "width": 96, "height": 64}',
    '{"points": [[{"x": 1, "y": 2, "label": "a"}, [3, 4]]]}',
    '[[{"x": 5, "y": 6}, {"x": 7, "y": 8}], [[1, 2], [3, 4]]]',
    '[[[1, 2], [3, 4]]]', '[]', '{"points": []}', '{"points": [], "width": null, "height": null}',
    '{"points": [[[1, 2], [3, 4]]], "width": 96.0, "height": 64}', '  \n {"points": [[[1e2, 2E-1], [-0, 65536]]]} \t',
    # JSON the server refuses.
    '{"points": [[{"x": 1}, [3, 4]]]}', '{"points": [[{"x": 1, "y": "2"}, [3, 4]]]}', '{"points": [[[1, 2], [3, 4, 5]]]}',
    '{"points": [[[1, 2]]]}', '{"points": {"a": 1}}', '{"pairs": []}', '{"points": [], "width": 96}',
    '{"points": [], "width": 0, "height": 5}', '{"points": [], "width": 9.5, "height": 5}', '{"points": [], "width": true, "height": 5}',
    '{"points": [[[1, 2], [3, 65536.5]]]}', '{"points": [[[1, 2], [3, 1e400]]]}', '{"points": [[[true, 2], [3, 4]]]}',
    '{"points": [[[NaN, 2], [3, 4]]]}', '{"points": [[[Infinity, 2], [3, 4]]]}', '{"points": [[[-Infinity, 2], [3, 4]]]}',
    '{"points": [], "note": NaN}', '{"points": [], "width": NaN, "height": 5}', '{"points": [], "note": -Infinity}',
    '{"points": [], "note": "NaN"}', '{"points": [], "note": -NaN}', '{"points": [], "note": +1}', '{"points": [1,]}',
    '{"points": [], "note": 1' + "0" * 4300 + '}', '{"points": [], "note": 1' + "0" * 4299 + '}',
    '{"points": [], "note": 1' + "0" * 5000 + '.5}', '{"points": [[[' + "1" * 400 + ', 2], [3, 4]]]}',
    '{"points": [], "note": "\\u00e9 \\" \\\\"}', '{"points": [], "note": "unterminated}', '{"points": []} x', '[1, 2',
    '\ufeff{"points": []}', '{"points": [], "points": [[[1, 2], [3, 4]]]}', '{"points": [], "__proto__": {"width": 5}}',
    # The text forms: arrows, brackets, separators, size lines, comments.
    "20,15 -> 50,30\n70,50 -> 40,10", "20, 15 => 50, 30; 70,50 > 40,10", "(1,2) to (3,4)", "1,2to3,4", " ( 1 , 2 ) -> ( 3 , 4 ) ",
    "size 96 x 64\n1,2 -> 3,4", "size: 96, 64\n1,2 -> 3,4", "size=96X64", "size 96 64", "# a comment\n1,2 -> 3,4\n\n",
    "+1.,.5 -> 1e3,-2e-2", "1,2 -> 3,4 # trailing words", "Size 96 x 64", "size 0 x 64", "size 1234567890 x 5",
    "size 70000 x 5", "1,2 -> 3", "1,2 -> 3,4,5", "1;2 -> 3,4", "1,2 -> 3,4\n5,6 - 7,8", "-> 1,2", "1,2 -> 3,65537",
    "1,2 -> 3,1e999", "", "   ", "# only a comment", ";;\n;", "1,2\t->\x0b3,4", "1,2\u3000->\u20033,4",
    "1,2 -> 3,4\x1c", "\x1c1,2 -> 3,4", "1,2\x85-> 3,4", "1,2\ufeff-> 3,4",
    # Unicode digits: Python's re and float() read them as digits.
    "\u0661,\u0662 -> \u0663,\u0664", "size \u0669\u0666 x \u0666\u0664\n\uff11,\uff12 -> \U0001d7d1,\U0001d7dc",
    "1\u0660\u0660,2 -> 3,4",
    # Limits.
    "\n".join(f"{i % 90},{i % 60} -> {i % 80},{i % 50}" for i in range(MAX_PAIRS)),
    "\n".join(f"{i % 90},{i % 60} -> {i % 80},{i % 50}" for i in range(MAX_PAIRS + 1)),
    json.dumps({"points": [[[1, 2], [3, 4]]] * MAX_PAIRS}), json.dumps({"points": [[[1, 2], [3, 4]]] * (MAX_PAIRS + 1)}),
    "1,2 -> 3,4" + " " * (MAX_TEXT_CHARS - 10), "1,2 -> 3,4" + " " * (MAX_TEXT_CHARS - 9),
    "1,2 -> 3,4 #" + "\U0001f600" * (MAX_TEXT_CHARS - 12), "1,2 -> 3,4 #" + "\U0001f600" * (MAX_TEXT_CHARS - 11),
    "1,2 -> " + " " * 60_000 + "x", "1" * 60_000, "[" * 30_000, '{"points": [], "n": "' + '\\"' * 30_000 + "}",
    "1,2 -> 3,4\n" * 100_000,  # 1.1 MB: refused for its length, at once
]


def fuzz_texts(n: int, seed: int = 25) -> list[str]:
    rng = random.Random(seed)
    numbers = ["0", "1", "12", "-3", "+4", "5.", ".5", "6.25", "1e2", "2E-1", "-0", "65536", "\u0663", "\uff17", "007"]
    odd_numbers = ["65536.5", "70000", "1e999", "0x10", "1_0"]
    json_numbers = ["0", "1", "12", "-3", "6.25", "1e2", "2E-1", "-0", "65536", "96", "64.0"]
    spaces = [" ", "", "", "  ", "\t", "\u3000", "\x1c", "\xa0"]
    text_bits = numbers + [",", ", ", " -> ", "->", "=>", ">", " to ", "(", ")", "size ", "x", " X ", ":", "=", ";",
                           "\n", "#", "- ", "abc"]
    json_bits = numbers + ['"points"', '"width"', '"height"', '"x"', '"y"', '"n"', ":", ",", "[", "]", "{", "}",
                           "NaN", "Infinity", "-Infinity", "true", "null", '"1"', " "]

    def number() -> str:
        return rng.choice(odd_numbers if rng.random() < 0.05 else numbers)

    def json_number() -> str:
        return number() if rng.random() < 0.1 else rng.choice(json_numbers)

    def json_point() -> str:
        x, y = json_number(), json_number()
        if rng.random() < 0.1:
            return rng.choice([f"[{x}]", f'{{"x": {x}}}', f"[{x}, {y}, 1]", "null", f'{{"x": "{x}", "y": {y}}}'])
        return rng.choice([f"[{x}, {y}]", f'{{"x": {x}, "y": {y}}}', f'{{"y": {y}, "x": {x}, "z": 0}}'])

    def json_text() -> str:
        pairs = ", ".join(f"[{json_point()}, {json_point()}]" for _ in range(rng.randrange(4)))
        size = rng.choice(["", ', "width": 96, "height": 64', f', "width": {json_number()}, "height": {json_number()}',
                           ', "width": 96', ', "width": null, "height": null'])
        body = rng.choice([f'{{"points": [{pairs}]{size}}}', f"[{pairs}]"])
        if rng.random() < 0.2:  # a few characters changed
            chars = list(body)
            for _ in range(rng.randrange(1, 3)):
                chars.insert(rng.randrange(len(chars) + 1), rng.choice(json_bits))
            body = "".join(chars)
        return body

    def line() -> str:
        sp = lambda: rng.choice(spaces)  # noqa: E731
        pair = (f"{sp()}{rng.choice(['', '('])}{number()}{sp()},{sp()}{number()}{rng.choice(['', ')'])}{sp()}"
                f"{rng.choice(['->', '=>', '>', 'to', '-', ''])}{sp()}{number()},{sp()}{number()}{sp()}")
        size = f"{sp()}size{sp()}{rng.choice(['', ':', '='])}{sp()}{number()}{sp()}{rng.choice('xX, ')}{sp()}{number()}"
        return rng.choice([pair, pair, pair, size, "# note", ""])

    def text_text() -> str:
        body = rng.choice(["\n", ";", "\n\n"]).join(line() for _ in range(rng.randrange(1, 5)))
        if rng.random() < 0.3:
            chars = list(body)
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(text_bits))
            body = "".join(chars)
        return body

    return [rng.choice([json_text, text_text])() for _ in range(n)]


def server_reading(text: str):
    """What the node makes of the text: ["ok", pairs, width, height] or ["refused"]."""
    try:
        p = parse_drag_points(text, allow_empty=True)
    except ValueError:
        return ["refused"]
    return ["ok", [[list(s), list(t)] for s, t in p.pairs], p.width, p.height]


RUN_IN_PAGE = """async ([source, texts]) => {
  const url = URL.createObjectURL(new Blob([source], {type: "text/javascript"}));
  const { parsePoints, MAX_PAIRS, MAX_COORD, MAX_TEXT_CHARS } = await import(url);
  const t0 = performance.now();
  const out = texts.map((text) => { const p = parsePoints(text);
    return p.error ? ["refused", p.error] : ["ok", p.pairs, p.width, p.height]; });
  return {out, ms: performance.now() - t0, limits: [MAX_PAIRS, MAX_COORD, MAX_TEXT_CHARS]};
}"""


def same(a, b) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "refused":
        return True
    flat = lambda v: [x for pair in v[1] for pt in pair for x in pt]  # noqa: E731
    return (a[2], a[3]) == (b[2], b[3]) and len(a[1]) == len(b[1]) and all(
        math.isclose(x, y, rel_tol=0, abs_tol=1e-9) for x, y in zip(flat(a), flat(b)))


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    pg.goto("about:blank")
    yield pg
    context.close()


def test_the_editor_and_the_server_read_every_points_text_alike(page):
    texts = CASES + [f"1,2{c}->{c}3,4{c}" for c in PY_SPACES] + [f"{c}[]" for c in PY_SPACES] + fuzz_texts(4000)
    started = time.perf_counter()
    expected = [server_reading(t) for t in texts]
    python_s = time.perf_counter() - started
    got = page.evaluate(RUN_IN_PAGE, [MODULE.read_text(encoding="utf-8"), texts])
    differ = [(t[:80], e, g) for t, e, g in zip(texts, expected, got["out"]) if not same(e, g)]
    assert not differ, f"{len(differ)} of {len(texts)} texts read differently (text, server, editor): {differ[:8]}"
    # Both sides took every branch: accepted and refused texts from both grammars, {x, y} points among them.
    kinds = {(t.lstrip()[:1] in "{[", e[0]) for t, e in zip(texts, expected)}
    assert kinds == {(True, "ok"), (True, "refused"), (False, "ok"), (False, "refused")}
    assert sum(e[0] == "ok" and '"x"' in t for t, e in zip(texts, expected)) > 50
    assert all(g[1].startswith("drag_points: ") for g in got["out"] if g[0] == "refused")
    assert got["limits"] == [MAX_PAIRS, MAX_COORD, MAX_TEXT_CHARS]
    assert got["ms"] < 5000 and python_s < 30, (got["ms"], python_s)
