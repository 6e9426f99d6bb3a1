"""Running a study's `--quick` mode as a smoke test: one subprocess, its JSON read back."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_quick(study: str, out: Path, *extra: str, timeout: int = 900):
    """`python -m studies.<study> --quick --out OUT [extra]` from the repository root; asserts it exits 0;
    returns (proc, the JSON)."""
    proc = subprocess.run([sys.executable, "-m", f"studies.{study}", "--quick", "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc, json.loads(Path(out).read_text())


def finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
