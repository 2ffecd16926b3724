# softfact: `make demo` runs the toy experiment end to end, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
# A CPU build of PyTorch; override TORCH_PIP to pick another build for your machine.
TORCH_PIP ?= torch==2.13.0
# (named again with the dev extras: timm pulls torchvision, which would otherwise upgrade torch to a CUDA build)
BIN := $(VENV)/bin
STAMP := $(VENV)/.softfact-installed

.PHONY: demo test test-all bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_PIP)"
	$(BIN)/python -m pip install -q -e ".[dev]" "$(TORCH_PIP)"
	touch $(STAMP)

install: $(STAMP)

# each demo gets its own run folder, so a second `make demo` never touches the first
DEMO_DIR ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)
demo: $(STAMP)
	$(BIN)/softfact run --preset cpu --out-dir $(DEMO_DIR) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow" $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
