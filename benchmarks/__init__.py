"""The speed benchmark of ComfyUI-SDE-Drag: `make bench` (`.venv/bin/python -m benchmarks.run`).

Every figure is a ratio measured side by side in one run (see `benchmarks/run.py`). The SDE-vs-ODE
studies are beside it, in studies/."""
