# isobench — every target does its own setup on a fresh Debian 12 machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients libxml2-utils \
	libvirt-dev pkg-config \
	linux-image-amd64 busybox-static debootstrap e2fsprogs iptables runc sysbench fio \
	stress-ng iperf3 qperf redis-server libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
	chromium poppler-utils libc6-dev gcc postgresql
PROFILE ?= quick

.PHONY: setup apt venv bytecode daemons test test-cgroup2 test-kvm lint mutate bench bench-full bench-pytest report clean

setup: apt venv bytecode daemons

# apt-get only runs when a package is missing, so a second `make setup` is instant.
apt:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(APT_PACKAGES) 2>/dev/null \
		| awk '$$4 != "installed" {print $$1}'; \
		for p in $(APT_PACKAGES); do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done); \
	missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	if [ -n "$${missing// }" ]; then \
		echo "apt: installing $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat mode: a plain path entry, not an import hook that costs every start ~25 ms
	$(PY) -m pip install -q -e '.[dev]' --config-settings editable_mode=compat
	touch $@

venv: $(VENV)/.installed

# Start-up latency is part of what we measure: keep bytecode compiled even where
# PYTHONDONTWRITEBYTECODE is set (only changed files are recompiled).
bytecode: venv
	@$(PY) -m compileall -q runtime vm bench reports results isobench >/dev/null

# There is no systemd on these machines: start libvirt's daemons by hand when absent.
daemons:
	@pgrep -x virtlogd >/dev/null || virtlogd -d
	@pgrep -x libvirtd >/dev/null || libvirtd -d

# lint-imports checks the layering contract in pyproject.toml ([tool.importlinter]).
# Where QEMU and libvirt are installed, a VM test that would skip fails instead
# (ISOBENCH_REQUIRE_VM, tests/vmhost.py): a broken driver must not pass as "no VMs here".
REQUIRE_VM = $(if $(and $(shell command -v qemu-system-x86_64),$(shell command -v libvirtd)),1,0)

test: setup
	$(VENV)/bin/lint-imports --no-logo
	ISOBENCH_REQUIRE_VM=$${ISOBENCH_REQUIRE_VM:-$(REQUIRE_VM)} $(VENV)/bin/pytest -q tests
	$(LANE) cgroup2
# Not the KVM lane (make test-kvm): its nested guest livelocks now and then (both vCPUs of
# the TCG guest spinning in its kernel with interrupts off, the lane silent until its
# bound), most likely QEMU's emulated SVM under TCG, and it would fail CI at random; README.

# The test lanes (tests/lanes/lane.sh): a Debian guest built by isobench's own builder and
# booted by its own VM driver (TCG), the lane's root tests run inside it. cgroup2: a pure
# cgroup v2 hierarchy, once with the cgroupfs driver, once with systemd as PID 1; kvm: a
# guest with an emulated SVM CPU running KVM, libvirt and the VM driver on it. Each takes
# the host-wide integration lock (pytest's own conftest takes it per test, so not around
# pytest: a nested flock would deadlock).
LANE = flock /tmp/isobench-integration.lock tests/lanes/lane.sh

test-cgroup2: setup
	$(LANE) cgroup2

test-kvm: setup
	$(LANE) kvm

# Mutation testing ([tool.mutmut] in pyproject.toml): mutmut mutates the modules the verdicts,
# regression decisions and parsed metrics stand on and runs the unit tests that reach each
# mutant. Not part of `make test`: half an hour to an hour on a 2-core machine. A fresh run
# each time (mutants/ is mutmut's copy of the tree); then one line per module:
# killed/total and the mutants that survived. `.venv/bin/mutmut show NAME` shows one.
mutate: venv
	rm -rf mutants
	$(VENV)/bin/mutmut run
	@$(VENV)/bin/mutmut results --all true 2>/dev/null | awk -F': ' ' \
		{ k = $$1; sub(/^ +/, "", k); sub(/__mutmut_[0-9]+$$/, "", k); sub(/\.[^.]*$$/, "", k); \
		  total[k]++; if ($$2 == "killed") killed[k]++; else other[k, $$2]++; status[$$2] = 1 } \
		END { for (m in total) { line = sprintf("%-26s %4d/%-4d killed", m, killed[m], total[m]); \
		        for (s in status) if ((m, s) in other) line = line sprintf(", %d %s", other[m, s], s); \
		        print line } }' | sort
	@echo "survivors: .venv/bin/mutmut results; one diff: .venv/bin/mutmut show NAME"

lint: venv
	$(VENV)/bin/ruff check runtime vm bench reports results isobench tests
	$(VENV)/bin/lint-imports --no-logo

# The quick profile on every target this host can run; results under reports/out/<UTC time>/
# of this checkout (ISOBENCH_RESULTS), the session added to the history database, whose
# earlier sessions give the report its trends and regressions.
bench: setup
	ISOBENCH_RESULTS=$(CURDIR)/reports/out $(VENV)/bin/isobench bench --profile $(PROFILE)
	$(VENV)/bin/isobench report reports/out/latest --history

bench-full:
	$(MAKE) bench PROFILE=full

# The command workloads' fixed-work forms under pytest-benchmark (bench/test_workloads.py),
# each run saved under reports/out/pytest-benchmark/. Compare with a saved run, e.g.
#   make bench-pytest BENCH_PYTEST_ARGS="--benchmark-compare=0001 --benchmark-compare-fail=mean:10%"
# It holds the integration lock: a quiet host, and no integration test counting its cgroups.
BENCH_PYTEST_STORAGE ?= reports/out/pytest-benchmark
BENCH_PYTEST_ARGS ?=
bench-pytest: setup
	flock /tmp/isobench-integration.lock $(VENV)/bin/pytest -p no:cacheprovider \
		bench/test_workloads.py --benchmark-storage=file://$(BENCH_PYTEST_STORAGE) \
		--benchmark-autosave --benchmark-columns=min,median,mean,max,stddev,rounds \
		$(BENCH_PYTEST_ARGS)

report: venv
	$(VENV)/bin/isobench report reports/out/latest

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .import_linter_cache
