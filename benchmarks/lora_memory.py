"""Identity LoRA's peak memory on full-size checkpoints (random weights, CPU RSS), before and after
training moved in place (issue 25.4).

The figure: the process's peak resident memory during a graph that only trains (3 steps, rank 4,
a 128x128 picture), above its resident memory with the model loaded and the prompt encoded
(`tests/fullsize_run.py FAMILY --lora-memory`, one fresh process per family). "After" is measured
by `benchmarks/run.py --lora-memory` on this tree; "before" was measured once the same way on
commit 3793ca4 (which deep-copied the diffusion model) and is kept in the results file, since the
old code is gone from the tree.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "lora-memory.json"
FAMILIES = ("sd15", "sdxl")


def measure(family: str) -> dict:
    """One fresh process: `tests/fullsize_run.py FAMILY --lora-memory`'s JSON line."""
    run = subprocess.run([sys.executable, str(REPO / "tests" / "fullsize_run.py"), family, "--lora-memory"],
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def text(result: dict) -> str:
    """One line per family: peak above the loaded model, before -> after, in GiB and in model sizes."""
    lines = ["Identity LoRA peak memory above the loaded model (CPU RSS, 3 steps, rank 4, 128x128):"]
    for family in FAMILIES:
        before, after = result.get("before", {}).get(family), result.get("after", {}).get(family)
        if after is None:
            continue
        weights = after["weights_gib"]
        was = (f"{before['training_peak_above_loaded_gib']:.2f} GiB ({before['peak_above_loaded_per_weights']:.2f}x)"
               if before else result.get("before_not_run", {}).get(family, "not measured"))
        lines.append(f"  {family}: weights {weights:.2f} GiB; before {was} -> after "
                     f"{after['training_peak_above_loaded_gib']:.2f} GiB ({after['peak_above_loaded_per_weights']:.2f}x)")
    return "\n".join(lines)


def run(log=print) -> dict:
    """Measure "after" for every family and rewrite the results file, keeping its "before"."""
    result = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result.setdefault("after", {})
    for family in FAMILIES:
        log(f"identity LoRA memory: {family} (a fresh process; builds the random checkpoint once)")
        result["after"][family] = measure(family)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    return result
