"""The DRAG_POINTS value: source -> target point pairs in image pixels.

Two written forms parse to the same `DragPoints`:
- JSON (what the point widget writes):
  `{"points": [[[sx, sy], [tx, ty]], ...], "width": W, "height": H}`; width/height are the
  size of the image the points were picked on (optional).
- Plain text, for hand-written workflows: one pair per line or `;`-separated,
  `sx,sy -> tx,ty`, optionally a line `size W x H`.

No ComfyUI import: the parser is plain Python so it can be fuzzed in isolation.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

MAX_PAIRS = 256
MAX_COORD = 1 << 16  # larger than any image ComfyUI can hold in memory
# 256 pairs as JSON with sizes take about 10 KB; ComfyUI accepts prompts of up to 100 MB, and a text
# this node never needs must not hold the server (the parse runs under Python's global lock).
MAX_TEXT_CHARS = 64 * 1024
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# Matched against a line whose whitespace runs are collapsed to one space (`_collapsed`): two `\s*`
# side by side over a long run of spaces made the match quadratic (93 s for 32,000 spaces).
_PAIR_RE = re.compile(rf"^ ?\(? ?({_NUMBER}) ?, ?({_NUMBER}) ?\)? ?(?:->|=>|>|to) ?\(? ?({_NUMBER}) ?, ?({_NUMBER}) ?\)? ?$")
_SIZE_RE = re.compile(r"^ ?size ?[:=]? ?(\d{1,9}) ?[xX, ] ?(\d{1,9}) ?$")

Pair = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class DragPoints:
    pairs: tuple[Pair, ...]
    width: int | None = None
    height: int | None = None

    def to_json(self) -> str:
        data = {"points": [[list(s), list(t)] for s, t in self.pairs]}
        if self.width is not None:
            data.update(width=self.width, height=self.height)
        return json.dumps(data)

    def scaled_to(self, width: int, height: int) -> "DragPoints":
        """The same points on an image of `width` x `height` (identity if no size was recorded)."""
        if self.width is None or (self.width, self.height) == (width, height):
            return DragPoints(self.pairs, width, height)
        sx, sy = width / self.width, height / self.height
        pairs = tuple(((s[0] * sx, s[1] * sy), (t[0] * sx, t[1] * sy)) for s, t in self.pairs)
        return DragPoints(pairs, width, height)

    def check_inside(self, width: int, height: int) -> None:
        """ValueError naming the first pair with a point outside a `width` x `height` image."""
        for k, pair in enumerate(self.pairs):
            for role, (x, y) in zip(("source", "target"), pair):
                if not (0 <= x < width and 0 <= y < height):
                    raise ValueError(
                        f"drag_points: pair {k + 1} {role} point ({x:g}, {y:g}) is outside the "
                        f"{width}x{height} image; points must satisfy 0 <= x < {width} and 0 <= y < {height}. "
                        "Move the point inside the image or pick the points on this image."
                    )


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"drag_points: {what} must be a number, got {type(value).__name__} {value!r:.40}")
    try:
        value = float(value)
    except OverflowError:  # a JSON integer too large for a float (e.g. 400 digits)
        value = math.inf
    if not math.isfinite(value) or abs(value) > MAX_COORD:
        raise ValueError(f"drag_points: {what} must be a finite number below {MAX_COORD}, got {value!r}")
    return value


def _point(value, what: str) -> tuple[float, float]:
    if isinstance(value, dict) and set(value) >= {"x", "y"}:
        value = [value["x"], value["y"]]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"drag_points: {what} must be [x, y], got {value!r:.60}")
    return (_number(value[0], f"{what} x"), _number(value[1], f"{what} y"))


def _size(data: dict) -> tuple[int | None, int | None]:
    w, h = data.get("width"), data.get("height")
    if w is None and h is None:
        return None, None
    if w is None or h is None:
        raise ValueError("drag_points: give both width and height of the image the points were picked on, or neither")
    sizes = []
    for name, v in (("width", w), ("height", h)):
        v = _number(v, name)
        if v < 1 or v != int(v):
            raise ValueError(f"drag_points: {name} must be a positive whole number of pixels, got {v:g}")
        sizes.append(int(v))
    return sizes[0], sizes[1]


def _from_json(data) -> DragPoints:
    if isinstance(data, list):
        data = {"points": data}
    if not isinstance(data, dict) or "points" not in data:
        raise ValueError('drag_points: JSON must be {"points": [[[sx, sy], [tx, ty]], ...], "width": W, "height": H}')
    raw = data["points"]
    if not isinstance(raw, list):
        raise ValueError(f"drag_points: \"points\" must be a list of [source, target] pairs, got {type(raw).__name__}")
    if len(raw) > MAX_PAIRS:
        raise ValueError(f"drag_points: {len(raw)} pairs is more than the {MAX_PAIRS} supported")
    pairs = []
    for k, pair in enumerate(raw):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"drag_points: pair {k + 1} must be [[sx, sy], [tx, ty]], got {pair!r:.60}")
        pairs.append((_point(pair[0], f"pair {k + 1} source"), _point(pair[1], f"pair {k + 1} target")))
    width, height = _size(data)
    return DragPoints(tuple(pairs), width, height)


def _collapsed(line: str) -> str:
    """The line with every whitespace run as one space and none at the ends (linear time)."""
    return " ".join(line.split())


def _from_text(text: str) -> DragPoints:
    pairs, width, height = [], None, None
    for line in re.split(r"[;\n]", text):
        line = _collapsed(line)
        if not line or line.startswith("#"):
            continue
        size = _SIZE_RE.match(line)
        if size:
            width, height = _size({"width": int(size[1]), "height": int(size[2])})
            continue
        m = _PAIR_RE.match(line)
        if not m:
            raise ValueError(
                f"drag_points: cannot read {line.strip()!r:.60}; write one pair per line as 'sx,sy -> tx,ty' "
                'or JSON {"points": [[[sx, sy], [tx, ty]]]}'
            )
        n = len(pairs) + 1
        pairs.append((_point([float(m[1]), float(m[2])], f"pair {n} source"),
                      _point([float(m[3]), float(m[4])], f"pair {n} target")))
        if len(pairs) > MAX_PAIRS:
            raise ValueError(f"drag_points: more than the {MAX_PAIRS} supported pairs")
    return DragPoints(tuple(pairs), width, height)


def parse_drag_points(text: str, *, allow_empty: bool = False) -> DragPoints:
    """Parse the JSON or plain-text form. ValueError (naming drag_points) on anything else."""
    if not isinstance(text, str):
        raise ValueError(f"drag_points must be text, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"drag_points: the text is {len(text):,} characters, more than the {MAX_TEXT_CHARS:,} this "
                         f"node reads ({MAX_PAIRS} pairs fit in far less); give the points as 'sx,sy -> tx,ty' lines")
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped, parse_constant=lambda c: float("nan"))
        except (ValueError, RecursionError) as e:
            raise ValueError(f"drag_points: malformed JSON ({str(e)[:80]})") from None
        points = _from_json(data)
    else:
        points = _from_text(stripped)
    if not points.pairs and not allow_empty:
        raise ValueError("drag_points: the point list is empty; add at least one source -> target pair")
    return points
