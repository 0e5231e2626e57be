# The two commands the README names: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install controlplane java browser postgres image lint clean fuzz soak

# A virtualenv with kubeops (editable) and its development tools.
$(BIN)/kubeops: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/kubeops

# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and
# kubectl from the pinned sources once, and beside them (at the same time) the
# Alertmanager, metrics-server and opa some tests run, and Kafka's jars; later runs reuse the cache.
controlplane: install java
	$(BIN)/kubeops testenv assets

# Java and Maven, which fetch Apache Kafka's jars from Maven Central and run the
# broker the event-bus tests use (Debian's packages when the machine lacks them).
java:
	@{ command -v java && command -v mvn; } >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null; }

# Debian's Chromium, which the HTML report's browser test drives through Playwright
# (nothing is downloaded by Playwright itself).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's PostgreSQL server binaries, which the history and audit tests run a
# throwaway server from (on 127.0.0.1, in a temporary directory; the packaged
# service itself is not needed).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

# kubeops' OCI image in build/image/ (tag: the version), without a container engine:
# a Debian bookworm root filesystem from mmdebstrap (Debian's package when the machine
# lacks it), the wheel in a venv at /opt/kubeops, packed by umoci (built like the control
# plane). Cached under ~/.cache/kubeops/image-<key>/; `docker build .` makes the same image.
image: install
	@command -v mmdebstrap >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null; }
	$(BIN)/python -m kubeops.testenv.image build/image

demo: controlplane
	$(BIN)/python examples/demo.py

lint: install
	$(BIN)/ruff format --check src tests examples scripts bench
	$(BIN)/ruff check src tests examples scripts bench
	$(BIN)/mypy

# The Debian packages first (one apt at a time), then the Go builds and the image
# together (the image is mostly downloads and dpkg, the builds mostly CPU).
test: install java browser postgres
	$(MAKE) --no-print-directory -j2 controlplane image
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest

# kubeops against client-go, the Python peers and the floors (~106 min on 2 cores; S10, multi-cluster sync, is ~40 of them, S11, policy, ~11, S12, the Kafka bus, ~6):
# writes bench/results/<timestamp>.json and regenerates docs/benchmarks.md.
bench: controlplane
	$(BIN)/python bench/run.py

# Hostile-input fuzzing at full count: 100,000 generated inputs across every parser of
# user input (the test suite runs the same properties with a small fixed-seed count).
# The files run in parallel; the harness shares the total among every property.
fuzz: install
	ls tests/fuzz/test_fuzz_*.py | xargs -P 4 -I{} env KUBEOPS_FUZZ_EXAMPLES=100000 \
		$(BIN)/pytest {} -q -p no:cacheprovider -W ignore::hypothesis.errors.HypothesisWarning

# The fault soak at full count: 100 rounds of random real faults under concurrent
# writers (the test suite runs a few rounds).
soak: controlplane
	KUBEOPS_SOAK_ROUNDS=100 $(BIN)/pytest tests/soak -q -s

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
