"""Load DragBench Case reads the benchmarks' own layouts at native size (issue 27.3): DragBench as
published with DragDiffusion (meta_data.pkl read without running code), Drag100 (GoodDrag) and the
SDE-Drag layout, from ComfyUI's input folder, through ComfyUI's executor; points of a picture whose
sides are not multiples of 8 land in the cells VAE Encode's crop puts them in."""
import json
import os
import pickle
import shutil
import types
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared beside the checkout
WIDTH, HEIGHT = 53, 43  # neither a multiple of 8
PAIRS = [((10, 12), (30, 14)), ((5, 40), (44, 3))]
_y, _x = np.mgrid[0:HEIGHT, 0:WIDTH]
PICTURE = np.stack([_x * 255 // WIDTH, _y * 255 // HEIGHT, (_x + _y) * 127 // (WIDTH + HEIGHT)], -1).astype(np.uint8)
# smooth, so the JPEG of Drag100 keeps it within a few levels
MASK = np.zeros((HEIGHT, WIDTH), np.uint8)
MASK[2:42, 3:50] = 1


def write_dragbench_d(folder: Path, meta=None):
    folder.mkdir(parents=True)
    Image.fromarray(PICTURE).save(folder / "original_image.png")
    meta = meta if meta is not None else {"prompt": "a photo of noise", "mask": MASK,
                                          "points": [list(p) for pair in PAIRS for p in pair]}
    (folder / "meta_data.pkl").write_bytes(pickle.dumps(meta, protocol=4))


def write_drag100(folder: Path):
    folder.mkdir(parents=True)
    Image.fromarray(PICTURE).save(folder / "original.jpg", quality=95)
    Image.fromarray(MASK * 255).save(folder / "mask.png")
    (folder / "points.json").write_text(json.dumps({"points": [list(p) for pair in PAIRS for p in pair]}))


def write_sde_drag(folder: Path):
    folder.mkdir(parents=True)
    Image.fromarray(PICTURE).save(folder / "origin_image.png")
    Image.fromarray(MASK * 255).save(folder / "mask.png")
    (folder / "prompt.json").write_text(json.dumps({"prompt": "noise", "source": [list(s) for s, _ in PAIRS],
                                                    "target": [list(t) for _, t in PAIRS]}))


WRITERS = {"dragbench-d": write_dragbench_d, "drag100": write_drag100, "sde-drag": write_sde_drag}
PROMPTS = {"dragbench-d": "a photo of noise", "drag100": "", "sde-drag": "noise"}


@pytest.fixture()
def cases(host):
    """The three layouts written under ComfyUI's input/dragbench/<unique>/ (nested as published)."""
    import folder_paths

    top = f"sde_drag_test_{uuid.uuid4().hex[:8]}"
    root = Path(folder_paths.get_input_directory()) / "dragbench" / top
    names = {}
    for layout, write in WRITERS.items():
        rel = f"{layout}/category/case_1"
        write(root / rel)
        names[layout] = f"{top}/{rel}"
    yield root, names
    shutil.rmtree(root)


def _load(host, captured, case):
    prompt = {"1": {"class_type": "SDEDragLoadDragBenchCase", "inputs": {"case": case}}}
    for k, label in enumerate(("image", "mask", "points", "prompt")):
        prompt[f"c{k}"] = {"class_type": "TestCapture", "inputs": {"label": label, "value": ["1", k]}}
    result = host.run(prompt)
    return result


@pytest.mark.parametrize("layout", list(WRITERS))
def test_each_layout_loads_at_native_size_through_the_executor(host, captured, cases, layout):
    root, names = cases
    dragbench = host.module("nodes.dragbench")
    assert names[layout] in dragbench.list_cases()  # listed by the node's combo, 4 levels deep
    result = _load(host, captured, names[layout])
    assert result.ok, result
    image, mask, points = captured["image"], captured["mask"], captured["points"]
    assert image.shape == (1, HEIGHT, WIDTH, 3) and mask.shape == (1, HEIGHT, WIDTH)
    assert torch.equal(mask[0], torch.from_numpy(MASK.astype(np.float32)))
    tolerance = 0.02 if layout == "drag100" else 0.0  # a JPEG
    assert (image[0] - torch.from_numpy(PICTURE / 255.0).float()).abs().mean() <= tolerance + 1e-6
    assert points.pairs == tuple((tuple(map(float, s)), tuple(map(float, t))) for s, t in PAIRS)
    assert (points.width, points.height) == (WIDTH, HEIGHT)
    assert captured["prompt"] == PROMPTS[layout]


def test_a_malicious_pickle_is_refused_and_runs_nothing(host, tmp_path):
    bench_layouts, dragbench = host.module("nodes.bench_layouts"), host.module("nodes.dragbench")
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    write_dragbench_d(tmp_path / "case", meta={"prompt": "x", "points": [[1, 1], [2, 2]], "mask": Exploit()})
    with pytest.raises(ValueError, match=r"meta_data.pkl asks for (posix|os|nt)\.system.*refused"):
        dragbench.read_case(str(tmp_path / "case"))
    assert not marker.exists()
    for module, name in (("builtins", "eval"), ("numpy", "load"), ("subprocess", "Popen")):
        with pytest.raises(Exception, match="refused"):
            bench_layouts.SafeUnpickler(__import__("io").BytesIO(b"")).find_class(module, name)


@pytest.mark.parametrize("meta,message", [
    ({"prompt": "x", "points": [[1, 1], [2, 2], [3, 3]], "mask": MASK}, "odd number"),
    ({"prompt": "x", "points": [[1, 1], [200, 2]], "mask": MASK}, "outside the 53x43 image"),
    ({"prompt": "x", "points": [[1, 1], [2, 2]], "mask": np.ones((4, 4), np.uint8)}, "mask in meta_data.pkl is 4x4"),
    ([1, 2], "not the dict"),
], ids=["odd points", "point outside", "mask size", "not a dict"])
def test_a_malformed_dragbench_case_is_rejected_clearly(host, tmp_path, meta, message):
    write_dragbench_d(tmp_path / "case", meta=meta)
    with pytest.raises(ValueError, match=message):
        host.module("nodes.dragbench").read_case(str(tmp_path / "case"))


@pytest.mark.parametrize("size", [(53, 43), (517, 343), (512, 341), (64, 64)])
def test_points_land_in_the_cell_vae_encode_crops_them_into(host, size):
    """A marker pixel at each point, cropped by ComfyUI's own vae_encode_crop_pixels, sits in the cell
    points_in_cells gives (and mask_for crops the mask the same way)."""
    import comfy.sd

    drag, masks = host.module("nodes.drag"), host.module("nodes.masks")
    points_format = host.module("nodes.points_format")
    width, height = size
    h, w = height // 8, width // 8
    pairs = (((8.0, 9.0), (width - 1.0, height - 1.0)), ((0.0, height / 2), (width / 2, 0.0)))
    points = points_format.DragPoints(pairs, width, height)
    latent_format = types.SimpleNamespace(spacial_downscale_ratio=8)
    sources, targets = drag.points_in_cells(points, torch.zeros(1, 4, h, w), latent_format)
    vae = types.SimpleNamespace(crop_input=True, spacial_compression_encode=lambda: 8)
    for k, pair in enumerate(pairs):
        for cells, (x, y) in zip((sources, targets), pair):
            picture = torch.zeros(1, height, width, 3)
            picture[0, int(y), int(x)] = 1
            cropped = comfy.sd.VAE.vae_encode_crop_pixels(vae, picture)[0, :, :, 0]
            if cropped.sum() == 0:  # on the border VAE Encode drops: the nearest kept cell
                continue
            row, col = (cropped.nonzero()[0] // 8).tolist()
            assert (int(cells[k, 0]), int(cells[k, 1])) == (col, row), (size, x, y)
            mask = torch.zeros(1, height, width)
            mask[0, int(y), int(x)] = 1
            region = masks.mask_for(mask, (1, 4, h, w), 8)
            assert region[0, 0, row, col] > 0


def _real_case(kind: str) -> Path:
    folders = sorted(p.parent for p in SHARED_DATA.glob({"dragbench-d": "dragbench-d/*/*/meta_data.pkl",
                                                         "drag100": "drag100/*/points.json"}[kind]))
    assert folders, (f"no {kind} case in {SHARED_DATA}: this test needs the shared benchmark data beside the "
                     "checkout (../shared/data, see its README), as CI has it")
    return folders[0]


@pytest.mark.parametrize("kind", ["dragbench-d", "drag100"])
def test_a_real_case_from_the_shared_data_loads_in_place_through_the_executor(host, captured, kind):
    import folder_paths

    folder = _real_case(kind)
    root = Path(folder_paths.get_input_directory()) / "dragbench"
    root.mkdir(parents=True, exist_ok=True)
    link = root / f"sde_drag_test_real_{uuid.uuid4().hex[:8]}"
    link.symlink_to(folder, target_is_directory=True)  # read in place, never copied
    try:
        result = _load(host, captured, link.name)
        assert result.ok, result
    finally:
        link.unlink()
    with Image.open(next(folder.glob("original*"))) as im:
        width, height = im.size
    assert captured["image"].shape == (1, height, width, 3)
    mask = captured["mask"]
    assert mask.shape == (1, height, width) and 0 < float(mask.mean()) < 1
    assert len(captured["points"].pairs) >= 1 and (captured["points"].width, captured["points"].height) == (width, height)
