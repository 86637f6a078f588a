# d2lite: `make book` builds the HTML book, `make test` checks everything. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# This machine's pip configuration names local package folders that may not exist; hide that noise.
PIP_INSTALL = $(PY) -m pip install -q -c constraints.txt
QUIET_PIP := 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

# Lessons read real data from a local copy when there is one (CI and this workplace); else the hub
# downloads it into its cache.
ifneq ($(wildcard ../shared/data),)
export D2LITE_DATA ?= $(abspath ../shared/data)
endif

.PHONY: book pdf test lab execute sweep setup-book setup-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip $(QUIET_PIP)

# Stamps: re-install only when the project's requirements change.
$(VENV)/.book-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP_INSTALL) -e ".[book]" $(QUIET_PIP)
	touch $@

$(VENV)/.test-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP_INSTALL) -e ".[test]" $(QUIET_PIP)
	touch $@ $(VENV)/.book-installed

$(VENV)/.dev-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP_INSTALL) -e ".[dev]" $(QUIET_PIP)
	touch $@ $(VENV)/.test-installed $(VENV)/.book-installed

book: $(VENV)/.book-installed
	$(VENV)/bin/jupyter-book build . --quiet
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# The whole book as one PDF (_build/pdf/d2lite.pdf), printed offline by the Chromium the browser
# check uses.
pdf: $(VENV)/.test-installed
	$(PY) tools/pdf.py

# `make test NB=notebooks/04_cnn/resnet.py` checks only that lesson (nbval and the lesson rules).
test: $(VENV)/.test-installed
	$(PY) tools/run_tests.py $(NB)

lab: $(VENV)/.dev-installed
	$(VENV)/bin/jupyter lab notebooks

# Re-execute lessons in place on the CPU (fresh kernel each); `make execute NB=notebooks/01_preliminaries/tensors.py`
# runs one.
execute: $(VENV)/.test-installed
	$(PY) tools/execute.py $(NB)

# Run lessons as scripts under other training seeds, CPU kernels and one thread, and record the
# outcome in notebooks/sweep.csv (a test checks that every lesson's current code passed every
# variant). `make sweep NB=notebooks/04_cnn/resnet.py` sweeps one; SWEEP_ARGS="--jobs 2" etc.
sweep: $(VENV)/.test-installed
	$(PY) tools/sweep.py $(SWEEP_ARGS) $(NB)

clean:
	rm -rf _build
