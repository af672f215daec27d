# Two commands on a fresh machine with only python3: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEBS := dcmtk libgdcm-tools orthanc chromium

.PHONY: bench-match eval demo test setup system-deps lint bench fuzz clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Debian tools the tests use as independent third parties (DCMTK, GDCM) and real services.
system-deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: $(STAMP)
	$(BIN)/dedup demo --out $(DEMO_DIR)

test: $(STAMP) system-deps
	$(BIN)/ruff check dedup tests benchmarks dashboards
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check dedup tests benchmarks dashboards
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/index_throughput.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache

# Matching at scale (1M archived signatures, 10k incoming) and matching accuracy (README).
bench-match: $(STAMP)
	$(BIN)/python benchmarks/match_scale.py

eval: $(STAMP) system-deps
	$(BIN)/python benchmarks/eval_matching.py --out eval-out --seeds 4
