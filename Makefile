# The two set-up commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
PY = $(shell bash scripts/env.sh)

.PHONY: demo test env bench
env:
	@bash scripts/env.sh >/dev/null

demo: env
	$(PY) -m learned_solvers.cli demo

test: env
	$(PY) -m pytest -q -p no:cacheprovider --durations=15

# every benchmark run behind the guides' figures, into benchmarks/results (hours on 2 cores;
# one run: bash benchmarks/run_pde.sh NAME)
bench: env
	bash benchmarks/run_lp_qp.sh
	bash benchmarks/run_pde.sh
	bash benchmarks/run_scaling.sh
	bash benchmarks/run_sensitivity.sh
	$(PY) benchmarks/targets.py --readme
