# voipkit: the two commands that set up everything on a fresh machine.
#
#   make demo   create .venv, install voipkit, run the main job
#   make test   install test dependencies (and, as root, the Debian peers the
#               interop tests run), then run every test
#
# VOIPKIT_NO_PEERS=1 make test   runs without the Debian peers (Kamailio, SIPp,
#                               sipsak ...) on a machine where they cannot be
#                               installed: the interop tests are then deselected
#                               and the run says so. CI never sets it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

# Debian packages the interop tests need, and a command each one provides.
PEER_PACKAGES := kamailio kamailio-sqlite-modules kamailio-tls-modules \
                 kamailio-presence-modules sip-tester sipsak baresip linphone-cli \
                 coturn sqlite3 openssl
PEER_COMMANDS := kamailio sipp sipsak baresip linphonec turnserver sqlite3 openssl

.PHONY: demo test test-fast peers lint typecheck bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m voipkit demo

peers:
	@./scripts/install-peers.sh $(PEER_PACKAGES) -- $(PEER_COMMANDS)

test: $(STAMP)
ifeq ($(VOIPKIT_NO_PEERS),1)
	@echo "VOIPKIT_NO_PEERS=1: interop tests against real peers are NOT run"
	$(PY) -m pytest -m "not interop" $(PYTEST_ARGS)
else
	@./scripts/install-peers.sh $(PEER_PACKAGES) -- $(PEER_COMMANDS)
	$(PY) -m pytest $(PYTEST_ARGS)
endif

test-fast: $(STAMP)
	$(PY) -m pytest -m "not interop" -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench samples
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/bench_parse.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
