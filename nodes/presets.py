"""The drag settings, defined once: the paper's (the nodes' defaults, for SD1.5-size 64x64
latents), the fast one (the paper's with 25 steps: an eighth of its model calls, its quality
within the paper preset's 95 % interval on the demo and the exact-score model,
`benchmarks/study_drag.py` and `benchmarks/eval_exact.py`) and the demo model's (16x16
latents: the settings of the example workflows and of `make eval`; t0 0.4, where SDE-Drag ties
ODE-Drag on the demo model and succeeds in 177 of 200 cases against 145 at t0 0.6,
`benchmarks/eval_demo.py`). Other code (templates, eval, benchmarks, docs) reads them from here."""

PAPER = {"steps": 200, "t0": 0.6, "cfg": 3.0, "step_size": 2, "r": 5, "alpha": 1.1, "beta": 0.3}
FAST = {**PAPER, "steps": 25}
DEMO = {**PAPER, "steps": 50, "t0": 0.4, "r": 3}


def _text(preset: dict) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in preset.items())


PAPER_PRESETS_TEXT = f"Paper presets for dragging: {_text(PAPER)}."
FAST_PRESETS_TEXT = f"Fast presets (an eighth of the paper's model calls at the same measured quality): {_text(FAST)}."
DEMO_PRESETS_TEXT = f"Demo presets for dragging: {_text(DEMO)}."
