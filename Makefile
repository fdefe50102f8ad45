# voipkit: the two commands that set up everything on a fresh machine.
#
#   make demo   create .venv, install voipkit, run the main job
#   make test   install voipkit as a user gets it (a non-editable install: the SIP
#               parser compiled with mypyc) with its test dependencies (and, as root,
#               the Debian peers the interop tests run), run every test, then run the
#               sans-IO SIP tests again against the pure-Python source (src/)
#   make dev    editable pure-Python install for working on the code (no compile;
#               the next `make test` reinstalls the compiled package)
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
# Every source the installed package is built from: the install is redone when one changes.
SOURCES := $(shell find src -name '*.py') pyproject.toml setup.py
# The main test run checks that the installed parser is compiled (tests/test_compiled.py),
# unless VOIPKIT_PURE_PYTHON=1 asked for a pure install.
EXPECT_COMPILED := $(if $(filter 1,$(VOIPKIT_PURE_PYTHON)),0,1)
# The second run: the sans-IO SIP tests against the pure-Python modules in src/.
PURE_RUN = PYTHONPATH=src VOIPKIT_EXPECT_PURE=1 $(PY) -m pytest -q tests/sip \
           tests/test_compiled.py -m "not interop"

# Debian packages the interop tests need, and a command each one provides.
PEER_PACKAGES := kamailio kamailio-sqlite-modules kamailio-tls-modules \
                 kamailio-presence-modules sip-tester sipsak baresip linphone-cli \
                 coturn sqlite3 openssl libportaudio2 jackd2 libspeexdsp1 \
                 xvfb x11-xserver-utils
PEER_COMMANDS := kamailio sipp sipsak baresip linphonec turnserver sqlite3 openssl jackd \
                 Xvfb xsetroot

.PHONY: demo test test-fast dev peers lint typecheck bench clean

# Non-editable, so the tests run what a user installs (compiled modules in site-packages).
# build/ is removed first: setuptools would otherwise ship stale files it left there.
$(STAMP): $(SOURCES)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	rm -rf build
	$(PY) -m pip install -q '.[test]'
	@touch $(STAMP)

dev:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	VOIPKIT_PURE_PYTHON=1 $(PY) -m pip install -q -e '.[test]'
	@rm -f $(STAMP)

demo: $(STAMP)
	$(PY) -m voipkit demo

peers:
	@./scripts/install-peers.sh $(PEER_PACKAGES) -- $(PEER_COMMANDS)

test: $(STAMP)
ifeq ($(VOIPKIT_NO_PEERS),1)
	@echo "VOIPKIT_NO_PEERS=1: interop tests against real peers are NOT run"
	VOIPKIT_EXPECT_COMPILED=$(EXPECT_COMPILED) $(PY) -m pytest -m "not interop" $(PYTEST_ARGS)
else
	@./scripts/install-peers.sh $(PEER_PACKAGES) -- $(PEER_COMMANDS)
	VOIPKIT_EXPECT_COMPILED=$(EXPECT_COMPILED) $(PY) -m pytest $(PYTEST_ARGS)
endif
	$(PURE_RUN)

test-fast: $(STAMP)
	VOIPKIT_EXPECT_COMPILED=$(EXPECT_COMPILED) $(PY) -m pytest -m "not interop" -q $(PYTEST_ARGS)
	$(PURE_RUN)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench samples
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/bench_parse.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
