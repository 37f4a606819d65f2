# Two commands for a fresh clone: `make run` (the dashboard) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=
N      ?= 5

.PHONY: run test lint bench screenshots demo clean mqueue flake-hunt

$(STAMP): pyproject.toml setup.py ipcwatch/native/_hexdump.c ipcwatch/native/_procfd.c ipcwatch/native/_procfd_pipe.c ipcwatch/native/_procfd_maps.c \
		ipcwatch/native/_procfd_process.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=77"
	# compat: a plain path entry instead of an import hook (10 ms less at every start); fall back if it is gone
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat \
		|| $(PY) -m pip install -q -e '.[test]'
	$(PY) setup.py -q build_ext --inplace
	$(PY) -m compileall -q ipcwatch  # bytecode up front: start-up stays fast even where PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

run: $(STAMP) mqueue
	$(VENV)/bin/ipcwatch $(ARGS)

# POSIX message queues are listed from /dev/mqueue; mount it when we can (root) and it is missing.
mqueue:
	@if [ "$$(id -u)" = 0 ] && ! grep -qs ' /dev/mqueue mqueue ' /proc/mounts; then \
		mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue \
		|| echo "note: could not mount /dev/mqueue; POSIX queue tests will be skipped"; fi

test: $(STAMP) mqueue
	$(VENV)/bin/ruff check ipcwatch tests benchmarks scripts scripts/flake-hunt
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(ARGS)

# The dashboard tests N times, each in a new random order; every failure is reported with the seed that replays it.
flake-hunt: $(STAMP) mqueue
	$(PY) scripts/flake-hunt -n $(N) $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check ipcwatch tests benchmarks scripts scripts/flake-hunt
	$(VENV)/bin/lint-imports

bench: $(STAMP) mqueue
	$(PY) benchmarks/run_all.py

screenshots: $(STAMP) mqueue
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info ipcwatch/native/*.so
