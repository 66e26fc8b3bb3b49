# The two set-up commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
PY = $(shell bash scripts/env.sh)

.PHONY: demo test env bench-slow
env:
	@bash scripts/env.sh >/dev/null

demo: env
	$(PY) -m learned_solvers.cli demo

test: env
	$(PY) -m pytest -q -p no:cacheprovider

bench-slow: env
	$(PY) -m pytest -q -m slow
