# ComfyUI-SDE-Drag. Two commands for a fresh machine: `make demo` and `make test`.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup setup-browser test test-full serve demo bench eval eval-dragbench clean-host

setup:
	@bash scripts/provision.sh

setup-browser:
	@bash scripts/provision.sh --browser

## The whole suite: set-up from nothing, then every test (browser tests included) except the
## longer full-size checks. The full-size families run first, in their own pytest process, so that
## the one full-size model in memory (SDXL peaks near 19 GB) sits beside a small parent. Full-size model files are built once (.host/fullsize, or $$SDE_DRAG_MODEL_CACHE).
test: setup-browser
	$(PY) -m pytest -q -p no:cacheprovider -m "not fullsize_extended" $(PYTEST_ARGS) tests/test_fullsize_families.py
	$(PY) -m pytest -q -p no:cacheprovider -m "not fullsize_extended" --ignore=tests/test_fullsize_families.py $(PYTEST_ARGS) tests

## Everything, with the longer full-size checks (see docs/fullsize.md).
test-full: setup-browser
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests

## ComfyUI with this pack on http://127.0.0.1:8188 (CPU). Ctrl-C stops it.
serve: setup
	@bash scripts/serve.sh

## Drag a bundled case on the embedded demo model; writes output/demo/.
demo: setup
	$(PY) scripts/run_demo.py

## The speed benchmark (benchmarks/: ratios measured in one run); QUICK=1 for the tiny-model smoke run.
bench: setup
	$(PY) -m benchmarks.run $(if $(QUICK),--quick,)

## The SDE-vs-ODE studies (studies/): SDE vs ODE measured on the demo model (drag, image-to-image, inpainting) and on the exact-score
## model (drag, eta front, quality per call, the pre-registered switch run) and that run on the demo model; QUICK=1 for a smoke run.
eval: setup
	$(PY) -m studies.eval_demo $(if $(QUICK),--quick,)
	$(PY) -m studies.eval_exact $(if $(QUICK),--quick,)
	$(PY) -m studies.study_drag $(if $(QUICK),--quick,)
	$(PY) -m studies.study_switch $(if $(QUICK),--quick,)
	$(PY) -m studies.study_switch_demo $(if $(QUICK),--quick,--jobs 2)
	$(PY) -m benchmarks.run --quality-only $(if $(QUICK),--out /tmp/sde-drag-quick,)

## A benchmark folder (DragBench-D, Drag100, SDE-Drag layouts) through ComfyUI's HTTP queue: one prompt per
## case, spread over SERVERS (space-separated URLs; none: one local server on the full-size checkpoint),
## resumable; per-case JSONs and summary.json in OUT. EXTRA: more arguments (e.g. --steps 4 --limit 10).
eval-dragbench: setup
	$(PY) scripts/eval_dragbench.py --data $(DATA) --out $(or $(OUT),output/eval-dragbench) \
		$(foreach s,$(SERVERS),--server $(s)) $(EXTRA)

clean-host:
	rm -rf .host .venv
