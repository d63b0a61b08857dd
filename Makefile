# Two commands do all the set-up on a fresh machine: `make app` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
# torch is pinned here (not in pyproject) so pip takes the CPU wheel rather than a CUDA build.
TORCH  := torch==2.13.0

.PHONY: app test install install-test browser lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e . $(TORCH)
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]' $(TORCH)
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test browser

# Debian's chromium for the browser tests (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

app: install
	$(BIN)/docmodel app --port $(PORT)

lint: install-test
	$(BIN)/ruff check corpora docmodel app tests benchmarks

test: install-test lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
