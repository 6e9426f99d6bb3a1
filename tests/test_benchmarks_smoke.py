"""`make bench QUICK=1` as a smoke test (it computes every figure and writes the JSON; the
values are not asserted: benchmarks are never timed unit tests), and docs/performance.md's
Performance table against the committed JSON it cites."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FIGURES = ("overhead", "nfe", "step_overhead", "memory", "quality", "lora", "fresh_sampler")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=REPO,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    files = list(out.glob("*.json"))
    assert len(files) == 1, files
    return proc, json.loads(files[0].read_text())


def test_quick_bench_computes_every_figure_and_writes_the_json(quick_run):
    proc, result = quick_run
    assert result["run"]["mode"] == "quick" and result["model"]["name"] == "tiny"
    for key in ("date", "seconds"):
        assert result["run"][key]
    for key in ("torch", "comfyui", "python"):
        assert result["versions"][key]
    assert result["machine"]["cores"] >= 1
    figures = result["figures"]
    assert set(FIGURES) <= set(figures)
    o = figures["overhead"]
    assert o["drag_s"]["n"] >= 3 and o["reference_s"]["n"] >= 3
    assert o["drag_s"]["min"] <= o["drag_s"]["median"] <= o["drag_s"]["max"]
    assert o["value"] > 0 and o["calls_match"]
    assert figures["nfe"]["cases"] and all(c["calls"] > 0 and c["rows"] > 0 for c in figures["nfe"]["cases"])
    assert figures["step_overhead"]["value"] > 0
    assert all(isinstance(c["difference_bytes"], int) and c["trajectory_bytes"] > 0
               for c in figures["memory"]["cases"])
    for key in ("lora", "fresh_sampler"):  # computed, or a clearly marked TODO
        assert figures[key].get("status") == "TODO" or figures[key]["value"] is not None, key
    # figure 5 reads make eval's committed study: a curve over plans, each with its interval
    q = figures["quality"]
    assert len(q["demo"]["curve"]) >= 3 and any(c["plan"] == "200 steps" for c in q["demo"]["curve"])
    for c in q["demo"]["curve"]:
        assert c["unet_calls_per_case"] > 0 and c["gt_l1_ae_ci95"][0] <= c["gt_l1_ae"] <= c["gt_l1_ae_ci95"][1]
    assert 0 < q["exact"]["cheapest_rows_fraction"] <= 1
    # stdout: the Markdown table
    assert "| figure | setting |" in proc.stdout and "1. Overhead ratio" in proc.stdout


def test_the_readme_performance_table_is_rendered_from_the_json_it_cites():
    from benchmarks import report

    readme = (REPO / "docs" / "performance.md").read_text()
    section = report.readme_section_text(readme)
    assert section is not None, "docs/performance.md has no '## Performance' section (benchmarks/report.py renders it)"
    cited = report.cited_results(section)
    assert cited, "the Performance section cites no benchmarks/results/*.json"
    for path in cited:
        assert (REPO / path).is_file(), f"{path} is cited by docs/performance.md but not committed"
    results = [report.load(REPO / p) for p in cited]
    # the full-size run, not a tiny-model one
    assert results[0]["run"]["mode"] == "full"
    assert results[0]["model"]["name"] == "sd15-unet" and round(results[0]["model"]["parameters"] / 1e6, 1) == 859.5
    table = report.table(results)
    assert table in section, (
        "docs/performance.md's Performance table differs from the one benchmarks/report.py renders from " + ", ".join(cited)
        + "; paste the output of `.venv/bin/python benchmarks/report.py " + " ".join(cited) + "`")


def test_the_per_drag_figure_for_a_gpu_runs_its_code_on_the_cpu_with_the_tiny_model(tmp_path):
    """`benchmarks/run.py --device cuda --per-drag` is the GPU figure (seconds per drag, peak
    memory, LoRA training); no GPU is lent here, so the same code runs with --quick on the CPU."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--per-drag", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=900, cwd=REPO,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    (path,) = tmp_path.glob("*-per-drag-tiny-cpu.json")
    fig = json.loads(path.read_text())["figures"]["per_drag"]
    assert fig["device"] == "cpu" and "paper" in fig["presets"]
    for row in fig["presets"].values():
        assert row["calls"] == row["sub_drags"] * row["denoising_steps"] and row["seconds"] > 0
        assert row["reference_seconds"] > 0 and row["peak_memory_bytes"] >= 0
    assert fig["lora"]["seconds_for_100_steps"] > 0


def test_the_lora_memory_report_names_before_and_after_for_each_family_measured():
    from benchmarks import lora_memory

    def figure(gib, weights):
        return {"training_peak_above_loaded_gib": gib, "peak_above_loaded_per_weights": gib / weights,
                "weights_gib": weights}

    result = {"before": {"sd15": figure(4.0, 2.0)}, "after": {"sd15": figure(0.5, 2.0), "sdxl": figure(1.0, 10.0)},
              "before_not_run": {"sdxl": "not run (two fp32 copies do not fit)"}}
    lines = lora_memory.text(result).splitlines()
    assert lines[1] == "  sd15: weights 2.00 GiB; before 4.00 GiB (2.00x) -> after 0.50 GiB (0.25x)"
    assert lines[2] == "  sdxl: weights 10.00 GiB; before not run (two fp32 copies do not fit) -> after 1.00 GiB (0.10x)"
    committed = json.loads(lora_memory.RESULTS.read_text())
    assert set(committed["after"]) == set(lora_memory.FAMILIES)
    assert committed["before"]["sd15"]["training_peak_above_loaded_gib"] > \
        committed["after"]["sd15"]["training_peak_above_loaded_gib"]
