"""The scripts' one path edit. A script run as `python scripts/<name>.py` has scripts/ first on
its path and nothing else of the repository; importing this module appends the repository root
(for `harness`, `studies`, `demo`) and tests/ (for the browser helpers). Appended, not
prepended: ComfyUI's own `nodes` module must keep winning over this pack's `nodes/` package
(harness/comfy_host.py puts ComfyUI's root first)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
