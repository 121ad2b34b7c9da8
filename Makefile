# One entry point: `make demo` (the main job) and `make test`, each setting up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch; set TORCH="torch==2.11.0" (or any installed CUDA build) on a GPU machine.
TORCH ?= torch==2.13.0
EXTRAS ?= triton,test,train,bench

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py wmkernels/_build.py $(shell find csrc -type f)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools>=70.1" wheel
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet --no-build-isolation -e ".[$(EXTRAS)]"
	touch $@

# Plans with the shipped models (models/) in every environment: a few tasks each, every planner,
# open-loop and MPC; prints success and planning time, writes eval/demo/{results.md,csv,png}.
DEMO_TASKS ?= 5

demo: setup
	$(BIN)/python -m training.evaluate --env all --tasks $(DEMO_TASKS) --threads 2 --out eval/demo

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
