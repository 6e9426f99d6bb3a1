"""The DragBench-format case loader: reads the paper's layout, rejects malformed cases clearly."""
import json

import numpy as np
import pytest


@pytest.fixture()
def dragbench(host):
    return host.module("nodes.dragbench")


@pytest.fixture()
def case_dir(tmp_path, dragbench, host):
    points = host.module("nodes.points_format").DragPoints(
        (((10.0, 12.0), (30.0, 12.0)), ((5.0, 5.0), (6.0, 30.0))), 48, 40)
    image = np.random.default_rng(0).random((40, 48, 3)).astype(np.float32)
    mask = np.zeros((40, 48), np.float32)
    mask[5:35, 5:45] = 1
    dragbench.write_case(str(tmp_path / "case"), image, mask, points, "red disc")
    return tmp_path / "case"


def test_a_written_case_reads_back_as_image_mask_points_and_prompt(dragbench, case_dir):
    image, mask, points, prompt = dragbench.read_case(str(case_dir))
    assert image.shape == (1, 40, 48, 3) and mask.shape == (1, 40, 48)
    assert set(mask.unique().tolist()) == {0.0, 1.0} and mask[0, 10, 10] == 1
    assert points.pairs[0] == ((10.0, 12.0), (30.0, 12.0))
    assert (points.width, points.height) == (48, 40) and prompt == "red disc"


def _edit_json(case_dir, **changes):
    meta = json.loads((case_dir / "prompt.json").read_text())
    meta.update(changes)
    (case_dir / "prompt.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("breakage,message", [
    (lambda d: (d / "origin_image.png").unlink(), "origin_image.png is missing"),
    (lambda d: (d / "prompt.json").unlink(), "prompt.json is missing"),
    (lambda d: _edit_json(d, target=[[1, 1]]), "2 source points but 1 target points"),
    (lambda d: _edit_json(d, source=[[10, 12], [50, 5]]), "outside the 48x40 image"),
    (lambda d: (d / "prompt.json").write_text("{not json"), "not valid JSON"),
], ids=["missing image", "missing prompt.json", "mismatched counts", "point outside", "bad json"])
def test_a_malformed_case_is_rejected_with_a_clear_error(dragbench, case_dir, breakage, message):
    (case_dir / "origin_image.png").exists()
    breakage(case_dir)
    with pytest.raises(ValueError, match=message):
        dragbench.read_case(str(case_dir))


def test_case_names_cannot_escape_the_case_folders(dragbench):
    for name in ("../x", "/etc", "..", ""):
        with pytest.raises(ValueError, match="case"):
            dragbench.find_case(name)


def test_the_bundled_cases_load_through_the_executor(host, captured):
    prompt = {"1": {"class_type": "SDEDragLoadDragBenchCase", "inputs": {"case": "red_disc_right"}},
              "2": {"class_type": "TestCapture", "inputs": {"label": "points", "value": ["1", 2]}},
              "3": {"class_type": "TestCapture", "inputs": {"label": "prompt", "value": ["1", 3]}}}
    assert host.run(prompt).ok
    assert captured["prompt"] == "red disc"
    assert captured["points"].pairs == (((22.0, 30.0), (38.0, 30.0)),)


def _write_png_header(path, width, height):
    """A PNG whose header claims width x height (PIL reads the size before any pixel)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("width,height,message", [
    (10000, 10000, "more than the"),  # 100 M pixels: above the pack's bound, below PIL's bomb error
    (60000, 60000, "too large to open safely|more than the"),  # PIL's DecompressionBombError
    (48, 40, "not a readable picture"),  # a header with no real pixels: truncated
], ids=["huge", "bomb", "truncated"])
def test_an_oversized_or_broken_case_picture_is_the_packs_own_clear_error(dragbench, case_dir, width, height, message):
    _write_png_header(case_dir / "origin_image.png", width, height)
    with pytest.raises(ValueError, match=message) as refused:
        dragbench.read_case(str(case_dir))
    assert str(case_dir) not in str(refused.value)  # errors name the file, not the server's folders


def test_a_picture_that_is_not_an_image_is_a_clear_error(dragbench, case_dir):
    (case_dir / "origin_image.png").write_bytes(b"this is not a picture")
    with pytest.raises(ValueError, match="origin_image.png is not a readable picture"):
        dragbench.read_case(str(case_dir))


def test_errors_about_missing_cases_and_files_name_no_server_folder(dragbench, case_dir):
    with pytest.raises(ValueError) as missing:
        dragbench.find_case("no_such_case")
    for root in dragbench.case_roots():
        assert root not in str(missing.value)
    (case_dir / "origin_image.png").unlink()
    with pytest.raises(ValueError) as gone:
        dragbench.read_case(str(case_dir))
    assert str(case_dir) not in str(gone.value)
