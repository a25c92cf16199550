# Set-up and checks; a fresh clone needs only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# setup.py builds events/_chain.c in place (an editable install): a change to it rebuilds.
$(VENV)/.installed: pyproject.toml setup.py events/_chain.c | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/tracker demo --serve

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(VENV)/.installed
	$(BIN)/python bench/startup_bench.py
	$(BIN)/python bench/store_bench.py
	$(BIN)/python bench/engine_bench.py
	$(BIN)/python bench/web_bench.py
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/wake_bench.py

# Long runs that are not tests: 100 kill -9, 20 double Ctrl-C, full disks, exports (~15 min).
soak: $(VENV)/.installed
	$(BIN)/python -m tests.soak

clean:
	rm -rf $(VENV) build *.egg-info events/_chain.*.so
