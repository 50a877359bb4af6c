# Quick start: `make demo` (set up, ingest corpus/, draft the demo assessment), then `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: setup dev demo test eval examples lint bench bench-peer bench-scifact bench-fusion bench-table clean

# The venv is rebuilt when the dependencies change. constraints.txt pins torch to the CPU
# wheel the machine's pip configuration offers (never the multi-gigabyte CUDA build).
# The LLM tests' server, llama-cpp-python, is compiled from source. Its default build targets the
# build machine's own CPU (GGML_NATIVE), and on CPUs with AVX-512/AMX in a VM that build crashes
# (SIGSEGV) on the first multi-token prompt. So it is built once, portable (AVX2), into a wheel
# folder of our own, keyed by version and flags, and installed from there: pip's wheel cache
# (which may hold a native build) is never consulted for it.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE   := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_WHEELS  := $(HOME)/.cache/meddraft/wheels/llama-cpp-python-$(LLAMA_VERSION)-avx2

$(LLAMA_WHEELS)/.built:
	@mkdir -p $(LLAMA_WHEELS)
	@echo "building llama-cpp-python $(LLAMA_VERSION) (portable, once per machine; about 5-10 min on 2 cores)"
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel --quiet --no-deps --no-cache-dir \
		-w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	touch $@

# Bytecode is compiled at install (uv does not by default, and a machine with PYTHONDONTWRITEBYTECODE
# never writes it): without it every cold `meddraft` command compiles ~2,000 modules again, about
# 0.9 s of a 1 s `search`. Our own packages are compiled by `setup` each time (only changed files).
# The runtime is installed with uv (from PyPI, into the venv): it downloads in parallel, and with an
# empty cache it sets up the runtime in about 25 s where pip takes about 3.5 min. uv does not read
# pip's configuration, so the machine's wheel folder (PIP_FIND_LINKS, where the CPU torch wheel is)
# is passed on.
FIND_LINKS ?= $(PIP_FIND_LINKS)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt \
		$(foreach d,$(FIND_LINKS),--find-links $(d)) -e .
	@$(BIN)/python -c "import torch, sys; sys.exit('CUDA torch was installed; see constraints.txt' if torch.version.cuda else 0)"
	@! $(BIN)/pip list 2>/dev/null | grep -qi '^nvidia-' || (echo 'nvidia-* packages were pulled in' && false)
	touch $(STAMP)

# The dev extra (pytest, ruff, the LLM tests' llama-cpp-python server) only for `make test`:
# `make demo` never waits for the llama build.
$(DEVSTAMP): $(STAMP)
	$(MAKE) --no-print-directory $(LLAMA_WHEELS)/.built
	$(BIN)/pip install --quiet -c constraints.txt --no-cache-dir --find-links $(LLAMA_WHEELS) \
		'llama-cpp-python[server]==$(LLAMA_VERSION)'
	$(BIN)/pip install --quiet -c constraints.txt --find-links $(LLAMA_WHEELS) -e '.[dev]'
	touch $(DEVSTAMP)

setup: $(STAMP)
	@$(BIN)/python -m compileall -q rag ingest eval >/dev/null
dev: $(DEVSTAMP)

DEMO_QUESTION := Is omalizumab 600 mg SC every 2 weeks medically indicated for this patient with idiopathic MCAS who failed H1/H2 blockers and corticosteroids?

demo: setup
	$(BIN)/meddraft ingest corpus/
	$(BIN)/meddraft status
	$(BIN)/meddraft assess "$(DEMO_QUESTION)" --case mcas-001 --out demo-assessment.md
	@cat demo-assessment.md

# tests/serve drives the page in Debian's chromium (Playwright's own browser download cannot work here)
test: dev
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# Quality gate (CI): gold cases end to end, then the PubMedQA retrieval benchmark. Stores are
# reused between runs, so a second run embeds nothing.
EVAL_STORE := .meddraft-eval
# The realworld set (payer PDFs, clinic notes) is read from ../shared/data, never copied here.
SHARED_DATA ?= ../shared/data
REALWORLD   := $(SHARED_DATA)/realworld
# Seven cases of our own in other clinic styles, read against the corpus and realworld policies.
STYLES      := eval/gold-styles
eval: setup
	$(BIN)/meddraft ingest corpus/ --store $(EVAL_STORE) --quiet
	$(BIN)/meddraft eval cases --store $(EVAL_STORE) --check --report reports/eval
	@if [ -f $(REALWORLD)/gold.yaml ]; then \
		$(BIN)/meddraft ingest $(REALWORLD)/policies $(REALWORLD)/literature $(REALWORLD)/cases \
			--store $(EVAL_STORE)-realworld --quiet && \
		$(BIN)/meddraft eval cases $(REALWORLD)/gold.yaml --store $(EVAL_STORE)-realworld --check \
			--thresholds eval/thresholds-realworld.toml --baseline eval/baseline-realworld.json \
			--report reports/eval-realworld && \
		$(BIN)/meddraft ingest corpus/policies corpus/labels corpus/literature $(REALWORLD)/policies \
			$(REALWORLD)/literature $(STYLES)/cases --store $(EVAL_STORE)-styles --quiet && \
		$(BIN)/meddraft eval cases $(STYLES)/gold.yaml --store $(EVAL_STORE)-styles --check \
			--thresholds eval/thresholds-styles.toml --baseline eval/baseline-styles.json \
			--report reports/eval-styles; \
	else echo "realworld gold not found at $(REALWORLD): skipped with the styles set (set SHARED_DATA)"; fi
	$(BIN)/meddraft eval retrieval --dataset pubmedqa --store .meddraft-bench-pubmedqa --check --report reports/pubmedqa

# Ingest speed on the corpus (and SciFact's 5,183 abstracts and the 940-page WHO PDF when
# $(SHARED_DATA) is there) against the model's own ceiling; then patient-record extraction and
# warm assess per case on the gold stores (the corpus store is built here; the realworld and
# styles stores when `make eval` made them).
# Three drafts, one per verdict, from the corpus gold set, to read beside the seed example.
examples: setup
	$(BIN)/meddraft ingest corpus/ --store $(EVAL_STORE) --quiet
	$(BIN)/python -m eval.examples --store $(EVAL_STORE)

WHO_PDF := $(SHARED_DATA)/pdfs/medical_text/who_selection_and_use_of_essential_medicine_2023.pdf
bench: setup
	$(BIN)/python -m eval.benchmarks.ingest --record corpus/ \
		$(if $(wildcard $(SHARED_DATA)/scifact),--scifact $(SHARED_DATA)/scifact) \
		$(if $(wildcard $(WHO_PDF)),--who $(WHO_PDF))
	$(BIN)/meddraft ingest corpus/ --store $(EVAL_STORE) --quiet
	$(BIN)/python -m eval.benchmarks.extraction --store $(EVAL_STORE) \
		$(foreach s,$(wildcard $(EVAL_STORE)-realworld $(EVAL_STORE)-styles),--store $(s))
	$(BIN)/python -m eval.benchmarks.cold --store $(EVAL_STORE) $(foreach d,$(wildcard reports/scifact-*),--scifact $(d))
	$(BIN)/python -m eval.benchmarks.serve --store $(EVAL_STORE)
	@if [ -d $(FUSION_SCIFACT) ]; then $(MAKE) --no-print-directory bench-fusion && \
		$(BIN)/python -m eval.benchmarks.scale --source $(FUSION_SCIFACT); \
	else echo "no SciFact store at $(FUSION_SCIFACT): fusion tuning and the 100k scale run skipped (make bench-scifact)"; fi
	@if [ -d $(SHARED_DATA)/scifact ]; then $(MAKE) --no-print-directory bench-peer; \
	else echo "SciFact not found at $(SHARED_DATA)/scifact: the LangChain peer is skipped (set SHARED_DATA)"; fi
	$(BIN)/python -m eval.benchmarks.figures

# Fusion of the dense and BM25 halves, tuned on SciFact's train claims only, then scored on the
# SciFact test split and PubMedQA (held out). Candidate lists are cached under reports/fusion-cache.
FUSION_SCIFACT := .meddraft-bench-scifact-onnx-fp32
bench-fusion: setup
	$(BIN)/python -m eval.benchmarks.fusion --store $(FUSION_SCIFACT) \
		$(if $(wildcard .meddraft-bench-pubmedqa),--pubmedqa-store .meddraft-bench-pubmedqa)

# meddraft against a naive LangChain pipeline on SciFact, one after the other (about 20-25 min on
# 2 cores); the peer's packages are in the dev extra.
bench-peer: dev
	$(BIN)/python -m eval.benchmarks.peer --data $(SHARED_DATA)/scifact

# Every recorded figure (reports/bench/*.json) in one table, each with its goal.
bench-table:
	$(BIN)/python -m eval.benchmarks.figures

# SciFact nDCG@10 for each embedding backend (about 10-15 min each on 2 cores), read by `make bench`.
bench-scifact: setup
	$(foreach v,torch-fp32:sentence-transformers:none onnx-fp32:onnx:none onnx-int8:onnx:int8,\
		MEDDRAFT_EMBEDDING__BACKEND=$(word 2,$(subst :, ,$(v))) MEDDRAFT_EMBEDDING__QUANTIZE=$(word 3,$(subst :, ,$(v))) \
		$(BIN)/meddraft eval retrieval --dataset scifact --store .meddraft-bench-scifact-$(word 1,$(subst :, ,$(v))) \
		--quiet --report reports/scifact-$(word 1,$(subst :, ,$(v))) &&) true

clean:
	rm -rf $(VENV) .meddraft .meddraft-eval .meddraft-eval-realworld .meddraft-eval-styles reports demo-assessment.md
