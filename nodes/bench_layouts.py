"""The drag benchmarks' own case layouts, read as they are published (issue 27.3).

- ``sde-drag``: the SDE-Drag authors' layout, ``origin_image.png``, optional ``mask.png``, ``prompt.json``
  ``{"prompt", "source": [[x, y], ...], "target": [[x, y], ...]}`` (read by ``dragbench.read_case``);
- ``dragbench-d``: DragBench as published with DragDiffusion, ``original_image.png`` and ``meta_data.pkl``,
  a pickled dict ``{"prompt": str, "points": [[x, y], ...] (handle, target, ...), "mask": uint8 HxW,
  nonzero = editable}``; the pickle is read by ``SafeUnpickler``, which builds numpy arrays and nothing else;
- ``drag100``: Drag100 as published with GoodDrag, ``original.jpg``, ``mask.png`` (white = editable) and
  ``points.json`` ``{"points": [[x, y], ...]}`` (handle, target, ...); it has no prompt (the prompt is "").

Points are image pixels (x right, y down) on the picture at its native size; nothing is resized here.
A picture whose sides are not multiples of the VAE's factor is centre-cropped by VAE Encode, and the drag
nodes map the points and the mask with the same crop (``nodes/drag.py`` ``points_in_cells``,
``nodes/masks.py`` ``mask_for``). Image decoding is the caller's (``dragbench._image``), so the
decoder's limits hold for every layout.
"""
from __future__ import annotations

import io as _io
import json
import os
import pickle
from typing import Callable

import numpy as np

from .points_format import DragPoints

SDE_DRAG, DRAGBENCH_D, DRAG100 = "sde-drag", "dragbench-d", "drag100"
# The file that marks each layout, the picture it shows, and the file with its points.
LAYOUT_FILES = {
    SDE_DRAG: ("origin_image.png", "prompt.json"),
    DRAGBENCH_D: ("original_image.png", "meta_data.pkl"),
    DRAG100: ("original.jpg", "points.json"),
}
MAX_PICKLE_BYTES = 64 << 20  # a 4096 x 4096 uint8 mask is 16 MiB; anything far larger is not a case
MAX_CASE_DEPTH = 4  # input/dragbench/[<folder>/]<benchmark>/<category>/<case>: DragBench-D keeps categories


def layout_of(folder: str) -> str | None:
    """The layout of a case folder (the first whose points file is present), or None."""
    for layout, (_, points_file) in LAYOUT_FILES.items():
        if os.path.isfile(os.path.join(folder, points_file)):
            return layout
    return None


def picture_of(folder: str) -> str:
    """The path of a case folder's picture (that of its layout; the SDE-Drag one if none is found)."""
    return os.path.join(folder, LAYOUT_FILES[layout_of(folder) or SDE_DRAG][0])


def find_case_folders(root: str, depth: int = MAX_CASE_DEPTH) -> list[str]:
    """Case folders under ``root`` (any layout), as ``/``-separated paths relative to ``root``, sorted.
    Follows symbolic links (a benchmark linked into ComfyUI's input folder) down to ``depth`` levels."""
    found: list[str] = []

    def walk(folder: str, rel: str, left: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            name = f"{rel}/{entry.name}" if rel else entry.name
            if layout_of(entry.path):
                found.append(name)
            elif left > 1:
                walk(entry.path, name, left - 1)

    walk(root, "", depth)
    return found


class SafeUnpickler(pickle.Unpickler):
    """Builds numpy arrays and dtypes and refuses every other global, so a pickle cannot run code
    (a plain ``pickle.load`` calls whatever callable the file names, ``os.system`` included)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"case: meta_data.pkl asks for {module}.{name}, which a DragBench case never needs; refused "
                f"(only numpy arrays are read from it, since a pickle can run code). Use the case files as "
                f"DragBench publishes them.")
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def safe_load_pickle(path: str):
    size = os.path.getsize(path)
    if size > MAX_PICKLE_BYTES:
        raise ValueError(f"case: {os.path.basename(path)} is {size} bytes, more than a case's "
                         f"{MAX_PICKLE_BYTES} byte limit")
    with open(path, "rb") as f:
        data = f.read()
    try:
        return SafeUnpickler(_io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        raise ValueError(str(e) if str(e).startswith("case:") else
                         f"case: {os.path.basename(path)} is not a readable pickle ({e})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise ValueError(f"case: {os.path.basename(path)} is not a readable pickle ({type(e).__name__}: {e})") from None


def interleaved_points(points, width: int, height: int, where: str) -> DragPoints:
    """``[[x, y], ...]`` as handle, target, handle, target, ... -> DragPoints on a width x height picture."""
    if not isinstance(points, (list, tuple, np.ndarray)):
        raise ValueError(f'case: {where} needs "points", a list of [x, y] pixel points (handle, target, ...)')
    flat = []
    for k, p in enumerate(points):
        if len(p) != 2:
            raise ValueError(f"case: {where} point {k + 1} is {p!r:.40}, not [x, y]")
        try:
            flat.append((float(p[0]), float(p[1])))
        except (TypeError, ValueError):
            raise ValueError(f"case: {where} point {k + 1} is {p!r:.40}, not two numbers") from None
    if not flat:
        raise ValueError(f"case: {where} has no points; it needs handle, target pairs")
    if len(flat) % 2:
        raise ValueError(f"case: {where} has {len(flat)} points, an odd number: points come as handle, target pairs")
    pairs = tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
    points = DragPoints(pairs, width, height)
    try:
        points.check_inside(width, height)
    except ValueError as e:
        raise ValueError(f"case: {where}: {e}") from None
    return points


def _fit_mask(mask: np.ndarray, width: int, height: int, what: str) -> np.ndarray:
    if mask.ndim == 3:  # an RGB(A) mask: any channel
        mask = mask.max(axis=-1)
    if mask.shape != (height, width):
        raise ValueError(f"case: the {what} is {mask.shape[-1]}x{mask.shape[0]} but the picture is {width}x{height}")
    return (np.asarray(mask, np.float64) > 0).astype(np.float32)  # nonzero = editable


def read_dragbench_d(folder: str, decode: Callable[[str, str], np.ndarray]):
    """(image [H,W,3] float in [0,1], mask [H,W] 0/1, DragPoints, prompt) from a DragBench-D case."""
    image = decode(os.path.join(folder, "original_image.png"), "image")
    height, width = image.shape[:2]
    meta = safe_load_pickle(os.path.join(folder, "meta_data.pkl"))
    if not isinstance(meta, dict):
        raise ValueError(f"case: meta_data.pkl holds a {type(meta).__name__}, not the dict of prompt, points, mask")
    points = interleaved_points(meta.get("points"), width, height, "meta_data.pkl")
    mask = meta.get("mask")
    if mask is None:
        mask = np.ones((height, width), np.float32)
    elif not isinstance(mask, np.ndarray) or mask.ndim not in (2, 3):
        raise ValueError('case: "mask" in meta_data.pkl must be an HxW array (nonzero = editable)')
    mask = _fit_mask(mask, width, height, "mask in meta_data.pkl")
    prompt = meta.get("prompt", "")
    if not isinstance(prompt, str):
        raise ValueError('case: "prompt" in meta_data.pkl must be text')
    return image, mask, points, prompt


def read_drag100(folder: str, decode: Callable[[str, str], np.ndarray]):
    """(image, mask, DragPoints, prompt "") from a Drag100 case; no mask.png = the whole picture editable."""
    image = decode(os.path.join(folder, "original.jpg"), "image")
    height, width = image.shape[:2]
    try:
        with open(os.path.join(folder, "points.json"), encoding="utf-8") as f:
            meta = json.load(f)
    except ValueError as e:
        raise ValueError(f"case: points.json is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ValueError('case: points.json must be an object {"points": [[x, y], ...]}')
    points = interleaved_points(meta.get("points"), width, height, "points.json")
    mask_path = os.path.join(folder, "mask.png")
    if os.path.exists(mask_path):
        mask = _fit_mask(decode(mask_path, "mask") > 0.5, width, height, "mask.png")
    else:
        mask = np.ones((height, width), np.float32)
    prompt = meta.get("prompt", "")
    return image, mask, points, prompt if isinstance(prompt, str) else ""


READERS = {DRAGBENCH_D: read_dragbench_d, DRAG100: read_drag100}
