"""The drag settings, defined once, with r and step_size in latent cells of the model each was
set for: the paper's (the nodes' defaults, for SD1.5-size 64x64 latents), the fast one (the
paper's with 25 steps: an eighth of its model calls, non-inferior to the paper preset on
placement and realism within 5 % margins in the pre-registered runs on the exact-score 64x64
model, `benchmarks/results/confirmatory-switch.json`, and on the demo model at its r 3,
`confirmatory-switch-demo.json`) and the demo model's (16x16 latents: the
settings of the example workflows and of `make eval`; t0 0.4, `studies/eval_demo.py`). Other
code (templates, eval, benchmarks, docs) reads them from here.

The nodes take r and step_size in 64ths of the latent's short side (`nodes/size_units.py`);
`in_short_side_64ths` says a preset in that unit (on 64x64 latents the numbers are the same)."""

PAPER = {"steps": 200, "t0": 0.6, "cfg": 3.0, "step_size": 2, "r": 5, "alpha": 1.1, "beta": 0.3}
FAST = {**PAPER, "steps": 25}
DEMO = {**PAPER, "steps": 50, "t0": 0.4, "r": 3}
DEMO_LATENT_SIDE = 16


def in_short_side_64ths(preset: dict, latent_side: int) -> dict:
    """``preset`` with r and step_size said in 64ths of the short side: ``cells * 64 / latent_side``
    (whole numbers for the presets here: the demo's r 3, step_size 2 on 16 cells are 12 and 8)."""
    scale = 64 / latent_side
    sized = {k: preset[k] * scale for k in ("r", "step_size")}
    return {**preset, **{k: int(v) if float(v).is_integer() else v for k, v in sized.items()}}


def _text(preset: dict) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in preset.items())


DEMO_IN_64THS = in_short_side_64ths(DEMO, DEMO_LATENT_SIDE)
PAPER_PRESETS_TEXT = f"Paper presets for dragging (r and step_size in 64ths of the short side): {_text(PAPER)}."
FAST_PRESETS_TEXT = (f"Fast presets (an eighth of the paper's model calls, non-inferior to them in pre-registered "
                     f"runs on two models): {_text(FAST)}.")
DEMO_PRESETS_TEXT = f"Demo presets for dragging: {_text(DEMO_IN_64THS)}."
