# The course's two commands: `make serve` (the main job) and `make test` (the whole test suite).
# Both set everything up from nothing first (scripts/setup.sh): Debian packages, .venv, pins, opslab.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080

.PHONY: setup serve book test labs lock clean

setup:
	@VENV=$(VENV) scripts/setup.sh

## Serve the book at once (a preview; its labs execute behind it, through the cache, and the full book
## replaces the preview when done) with the live pieces (scripts/serve.py, scripts/book_site.py).
serve: setup
	$(BIN)/python scripts/serve.py --port $(PORT)

book: setup
	$(BIN)/jupyter-book build . -n --keep-going

## The whole test suite. pytest's exit 5 ("no tests collected") is a failure here, never a pass.
test: setup
	@set -o pipefail; $(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

## Re-pin requirements.txt from requirements.in.
lock:
	scripts/lock.sh

clean:
	rm -rf _build
