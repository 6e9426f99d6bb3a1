"""Benchmarks of ComfyUI-SDE-Drag: `make bench` (`.venv/bin/python benchmarks/run.py`).

Every figure is a ratio measured side by side in one run (see `benchmarks/run.py`)."""
