# Two commands matter: `make run` (set up + start the app) and `make test` (set up + run all tests).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The torch build: auto (CUDA where nvidia-smi works, CPU otherwise), cpu, cuda or skip.
TORCH ?= auto
TORCH_VERSION := 2.13.0

.PHONY: run install test lint bench bench-gpu screenshot package smoke-test icons clean

TORCH_STAMP := $(VENV)/.torch-$(TORCH)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

# Says which build it chose and why (packaging/install_torch.sh); a new TORCH= installs again.
$(TORCH_STAMP): | $(PY)
	bash packaging/install_torch.sh $(PY) $(TORCH) $(TORCH_VERSION)
	rm -f $(VENV)/.torch-*
	touch $@

$(STAMP): pyproject.toml $(TORCH_STAMP)
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@$(PY) -c "import importlib.metadata as m; print('torch', m.version('torch'), '(make run TORCH=cpu|cuda to switch)')"
	$(PY) main.py $(ARGS)

# ruff (lint + format), import-linter (the architecture contracts in pyproject.toml), mypy (types).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

test: lint
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m tests.benchmarks.bench_app --out bench-out/app.json
	$(if $(shell command -v xvfb-run),xvfb-run -a -s "-screen 0 1600x1200x24",QT_QPA_PLATFORM=offscreen) $(PY) -m tests.benchmarks.bench_gui --out bench-out/gui.json
	$(if $(shell command -v xvfb-run),xvfb-run -a -s "-screen 0 1600x1200x24",QT_QPA_PLATFORM=offscreen) $(PY) -m tests.benchmarks.bench_gui --warm-up --out bench-out/gui-warm-up.json
	$(PY) -m tests.benchmarks.bench_engine --out bench-out/bench.json
	$(PY) -m tests.benchmarks.bench_colour --out bench-out/colour.json
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.benchmarks.bench_canvas --out bench-out/canvas.json
	$(if $(shell command -v xvfb-run),xvfb-run -a -s "-screen 0 1600x1200x24",QT_QPA_PLATFORM=offscreen) $(PY) -m tests.benchmarks.bench_live --out bench-out/live.json
	$(if $(shell command -v xvfb-run),xvfb-run -a -s "-screen 0 1600x1200x24",QT_QPA_PLATFORM=offscreen) $(PY) -m tests.benchmarks.bench_live --remote --out bench-out/live-remote.json
	$(PY) -m tests.benchmarks.bench_ray --out bench-out/ray.json
	$(PY) -m tests.benchmarks.bench_serve_pool --out bench-out/serve-pool.json
	$(PY) -m tests.benchmarks.bench_families --out bench-out/families.json
	$(PY) -m tests.benchmarks.bench_options --out bench-out/options.json
	$(PY) -m tests.benchmarks.bench_big_models --out bench-out/big-models.json
	$(PY) -m tests.benchmarks.report bench-out

# One lent H100/H200, no network, ≤ 8 minutes: SD 1.5, SDXL and a FLUX.1-dev-size transformer
# with random weights, app vs bare diffusers, every speed/memory/quantize option, peak memory.
bench-gpu:
	bash tests/benchmarks/gpu.sh

screenshot: $(STAMP)
	bash packaging/screenshot.sh

# A one-folder app in dist/img2img-studio/ (PyInstaller; 10-20 min and ~1.2 GB with CPU torch), then
# its smoke test under Xvfb. IMG2IMG_PACKAGE_LITE=1 builds without the engine (the window only).
package: $(STAMP)
	$(PY) -m pip install -e ".[dev,package]"
	$(VENV)/bin/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller \
		packaging/img2img-studio.spec
	bash packaging/smoke_test.sh dist/img2img-studio/img2img-studio

smoke-test:
	bash packaging/smoke_test.sh dist/img2img-studio/img2img-studio

icons: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) packaging/render_icons.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
