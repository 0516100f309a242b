PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench mutation clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	# The tests run torch-fidelity's Inception network and FID, which need neither its torchvision
	# dependency nor its package __init__ (which imports torchvision): install it without dependencies.
	$(BIN)/pip install --quiet --no-deps 'torch-fidelity>=0.4,<0.5'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/gausslab study --preset standard --out runs/study

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

mutation: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,mutation]'
	$(BIN)/python -m benchmarks.mutation

clean:
	rm -rf $(VENV) runs .pytest_cache
