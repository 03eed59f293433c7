# motcua — the two commands are `make run` and `make test`; everything else is what they build on.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
RASA_VENV := .venv-rasa
PY        := $(VENV)/bin/python
RASA      := $(RASA_VENV)/bin/rasa
# When `make` started: `make run` prints how long the whole start took.
STARTED   := $(shell date +%s.%N)
RASA_PORT ?= 5005
MODEL     := models/nlu.tar.gz
export PYTHONPATH := $(CURDIR)
# Rasa would otherwise send usage telemetry; this machine and agency deployments keep data local.
export RASA_TELEMETRY_ENABLED := false

.PHONY: help setup run test nlu-server model lint clean browser

help:
	@echo "make run         start the NLU server and the app on 127.0.0.1:$${PORT:-8000} (Ctrl-C stops both)"
	@echo "make test        set everything up, then run the whole test suite"
	@echo "make setup       build .venv (Python 3.11) and .venv-rasa (Python 3.10), train the NLU model"
	@echo "make nlu-server  only the Rasa NLU server, in the foreground, on 127.0.0.1:$(RASA_PORT)"

setup: $(VENV)/.installed $(RASA_VENV)/.installed model

$(VENV)/.installed: pyproject.toml
	@py=$$(bash .ci/find-python 3.11) || exit 1; \
	echo "==> app environment $(VENV) with $$py"; \
	[ -x $(PY) ] || $$py -m venv $(VENV); \
	$(PY) -m pip install --progress-bar on -q --upgrade pip; \
	$(PY) -m pip install --progress-bar on -e '.[dev]'
	@touch $@

$(RASA_VENV)/.installed: nlu/rasa-constraints.txt
	@py=$$(bash .ci/find-python 3.10) || exit 1; \
	echo "==> NLU environment $(RASA_VENV) with $$py (Rasa Open Source 3.6.21, about 2 GB, a few minutes)"; \
	[ -x $(RASA_VENV)/bin/python ] || $$py -m venv $(RASA_VENV); \
	$(RASA_VENV)/bin/python -m pip install -q --upgrade 'pip<25' wheel; \
	$(RASA_VENV)/bin/python -m pip install --progress-bar on -r nlu/rasa-constraints.txt
	@touch $@

# Trains only when config.yml, the NLU data, the catalogue or the custom components changed.
model: $(VENV)/.installed $(RASA_VENV)/.installed
	@$(PY) -m nlu.training --rasa $(RASA) --out $(MODEL)

nlu-server: $(RASA_VENV)/.installed model
	$(RASA) run --enable-api -i 127.0.0.1 -p $(RASA_PORT) -m $(MODEL) --cors '' --log-file /dev/null

# One launcher for both processes (bot/launch.py): says when the system is ready, Ctrl-C stops both.
run: setup
	@$(PY) -m bot.launch --since $(STARTED)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/motcua flows check

# Headless Chromium for the staff-console browser tests (Debian packages; skipped when already there).
browser:
	@[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || { echo "==> installing chromium + chromium-driver"; \
	apt-get update -q && apt-get install -y -q chromium chromium-driver; }

test: setup lint browser
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) $(RASA_VENV) models instance
