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
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q -m slow

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x

# Real test images shipped inside a registry package (stardist's img2d/mask2d); tests skip without.
test-data: $(STAMP)
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
