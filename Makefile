# Quick start: `make demo` (set up, ingest corpus/, show status), then `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

# The venv is rebuilt when the dependencies change. constraints.txt pins torch to the CPU
# wheel the machine's pip configuration offers (never the multi-gigabyte CUDA build).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@$(BIN)/python -c "import torch, sys; sys.exit('CUDA torch was installed; see constraints.txt' if torch.version.cuda else 0)"
	@! $(BIN)/pip list 2>/dev/null | grep -qi '^nvidia-' || (echo 'nvidia-* packages were pulled in' && false)
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/meddraft ingest corpus/
	$(BIN)/meddraft status

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m eval.benchmarks.ingest corpus/

clean:
	rm -rf $(VENV) .meddraft
