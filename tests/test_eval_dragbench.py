"""The batch run (scripts/eval_dragbench.py) against two real local ComfyUI servers on the tiny model:
cases of all three layouts go through ComfyUI's HTTP queue, both servers take cases, each case gets its
JSON (calls, memory, outside-mask change, finite output; or the error, named), and a rerun skips what
is finished (issue 27.3)."""
import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "harness"
import eval_dragbench  # noqa: E402  (scripts/ is on pytest's pythonpath)

PROBE_INIT = f'''
import importlib.util, os, sys
import torch
torch.set_num_threads(1)
spec = importlib.util.spec_from_file_location("tiny_models", os.path.join({str(HARNESS)!r}, "tiny_models.py"))
module = importlib.util.module_from_spec(spec)
sys.modules["tiny_models"] = module
spec.loader.exec_module(module)
NODE_CLASS_MAPPINGS = module.TEST_NODES
'''
W, H = 133, 99  # a 16x12 latent after VAE Encode's crop


def _picture(seed):
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([(x * 2 + seed * 40) % 256, y * 2 % 256, (x + y) % 256], -1).astype(np.uint8)


def _mask(empty=False):
    mask = np.zeros((H, W), np.uint8)
    if not empty:
        mask[16:84, 16:118] = 1
    return mask


def write_cases(root: Path):
    points = [[40, 40], [72, 48], [90, 60], [100, 70]]
    for k in range(2):
        d = root / "dragbench-d" / "cat" / f"case{k}"
        d.mkdir(parents=True)
        Image.fromarray(_picture(k)).save(d / "original_image.png")
        (d / "meta_data.pkl").write_bytes(pickle.dumps({"prompt": "p", "points": points, "mask": _mask()}, protocol=4))
        d = root / "drag100" / f"case{k}"
        d.mkdir(parents=True)
        Image.fromarray(_picture(k)).save(d / "original.jpg")
        Image.fromarray(_mask(empty=k == 1) * 255).save(d / "mask.png")  # case1: nothing editable
        (d / "points.json").write_text(json.dumps({"points": points}))
    d = root / "sde-drag" / "case0"
    d.mkdir(parents=True)
    Image.fromarray(_picture(3)).save(d / "origin_image.png")
    (d / "prompt.json").write_text(json.dumps({"prompt": "p", "source": [[40, 40]], "target": [[72, 48]]}))


def test_two_servers_share_the_cases_and_a_rerun_resumes(tmp_path):
    data, out, probe = tmp_path / "data", tmp_path / "out", tmp_path / "sde_drag_tiny_models"
    write_cases(data)
    probe.mkdir()
    (probe / "__init__.py").write_text(PROBE_INIT)
    argv = ["--data", str(data), "--out", str(out), "--tiny", "--local-servers", "2", "--extra-nodes", str(probe),
            "--steps", "10", "--t0", "0.3", "--step-size", "64", "--r", "2"]
    assert eval_dragbench.main(argv) == 1  # one case is refused (its mask is empty)
    records = {p.stem: json.loads(p.read_text()) for p in (out / "cases").glob("*.json")}
    assert len(records) == 5
    bad = records.pop("drag100__case1")
    assert bad["status"] == "error" and "nothing is editable" in bad["error"], bad
    for name, r in records.items():
        assert r["status"] == "ok", r
        assert r["finite_output"] and r["model_calls"] > 0 and r["peak_rss_mib"] > 0
        assert r["outside_mask_max_change"] is None or r["outside_mask_max_change"] < 1e-5, r
        assert r["latent_shape"] == [1, 4, 12, 16]
    assert len({r["server"] for r in [*records.values(), bad]}) == 2  # both servers took cases
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cases_found"] == 5 and summary["ok"] == 4 and summary["all_outputs_finite"]
    assert set(summary["by_layout"]) == {"dragbench-d", "drag100", "sde-drag"}

    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "cases").glob("*.json")}
    (out / "cases" / "sde-drag__case0.json").unlink()
    eval_dragbench.main(argv[:-8] + ["--local-servers", "1", "--steps", "10", "--t0", "0.3", "--r", "2"])
    after = {p.name: p.stat().st_mtime_ns for p in (out / "cases").glob("*.json")}
    assert set(after) == set(stamps)
    assert all(after[n] == stamps[n] for n in stamps if n != "sde-drag__case0.json")  # finished: skipped


def test_a_missing_checkpoint_is_refused_before_any_case_is_recorded(tmp_path, capsys):
    """Without the refusal every case got an error JSON and a resumed run then skipped them all."""
    data, out = tmp_path / "data", tmp_path / "out"
    write_cases(data)
    models = tmp_path / "checkpoints"
    models.mkdir()
    assert eval_dragbench.main(["--data", str(data), "--out", str(out), "--models", str(models)]) == 2
    assert "--checkpoint v1-5-pruned-emaonly-fp16.safetensors is not in --models" in capsys.readouterr().err
    assert not list(out.glob("cases/*.json"))


def test_the_summary_keeps_a_tiny_outside_mask_change_visible():
    from types import SimpleNamespace

    rows = [{"case": f"c{i}", "layout": "drag100", "status": "ok", "server": "s", "settings": {}, "finite_output": True,
             "wall_s": 60.0 + i, "outside_mask_max_change": change}
            for i, change in enumerate([0.0, 1.1920928955078125e-07, 4.76837158203125e-07])]
    summary = eval_dragbench.summarize(rows, SimpleNamespace(data="d"), 1.0, 3)
    change = summary["by_layout"]["drag100"]["outside_mask_max_change"]
    assert change["max"] == 4.76837e-07 and change["median"] == 1.19209e-07 and change["min"] == 0.0
    assert summary["by_layout"]["drag100"]["wall_s"]["median"] == 61.0
