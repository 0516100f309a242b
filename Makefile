PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench mutation clean

define COMPILE_IMPORTS
import importlib, pkgutil, gausslab, pytest, hypothesis, xdist
for module in pkgutil.walk_packages(gausslab.__path__, "gausslab."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
endef
export COMPILE_IMPORTS

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile torch==2.13.0
	$(BIN)/pip install --quiet --no-compile -e '.[dev]'
	# The tests run torch-fidelity's Inception network and FID, which need neither its torchvision
	# dependency nor its package __init__ (which imports torchvision): install it without dependencies.
	$(BIN)/pip install --quiet --no-compile --no-deps 'torch-fidelity>=0.4,<0.5'
	# pip would byte-compile every installed file (11,600, over a minute on one core); importing every
	# gausslab module and the test runner compiles the 2,800 or so that runs and tests import.
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -c "$$COMPILE_IMPORTS"
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
