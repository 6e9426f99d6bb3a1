"""The SDE-vs-ODE studies of ComfyUI-SDE-Drag (`make eval`): SDE against ODE on the demo model
(`eval_demo`, `study_drag`, with `drag_trials` and `eval_measures`) and on the exact-score model
(`exact_mixture`, `eval_exact`, the pre-registered `study_switch` with `paired_tests`, and
`study_switch_diagnostics`), and the same pre-registered run on the demo model (`study_switch_demo`);
`quality_per_call` reads their results for figure 5. Each runs from the
repository root as `.venv/bin/python -m studies.<name>`; results go to benchmarks/results/."""
