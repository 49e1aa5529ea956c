# Set-up and entry points. `make demo` and `make test` each create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test calibrate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: this version is a CPU wheel; an unpinned torch pulls GBs of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,offline]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/advisor run samples/ferry/corpus --qa samples/ferry/qa.jsonl --goal knowledge \
		--out runs/demo --budget-minutes 3 --offline-fallback

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf runs .pytest_cache
