# The two commands a newcomer needs (see README.md):
#   make run    start Asterisk (sandbox), the callcenter daemon and the web pages
#   make test   run the whole test suite (unit + end-to-end with real Asterisk and SIPp)
.PHONY: run test bootstrap lint bench

VENV := .venv/bin

bootstrap:
	scripts/bootstrap

run: bootstrap
	$(VENV)/callcenter run --sandbox

test:
	CALLCENTER_ASTERISK=both scripts/bootstrap
	scripts/test $(PYTEST_ARGS)

lint: bootstrap
	$(VENV)/ruff check callcenter tests benchmarks

bench: bootstrap
	$(VENV)/python benchmarks/ami_ingest.py
