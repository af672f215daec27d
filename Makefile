# Two commands on a fresh machine with only python3: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEBS := dcmtk libgdcm-tools orthanc orthanc-dicomweb chromium nginx

.PHONY: bench-check bench-match eval demo test setup system-deps lint bench fuzz clean notebook

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,eval]'
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

$(DEMO_DIR)/archive.duckdb:
	$(MAKE) demo

# The analyst notebook in JupyterLab, on the demo archive (made first if there is none) or on
# DEDUP_ARCHIVE.
NOTEBOOK_STAMP := $(VENV)/.notebook
$(NOTEBOOK_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,eval,notebook]'
	touch $(NOTEBOOK_STAMP)

notebook: $(NOTEBOOK_STAMP) $(if $(DEDUP_ARCHIVE),,$(DEMO_DIR)/archive.duckdb)
	$(BIN)/jupyter lab notebooks/analyst.ipynb

test: $(STAMP) system-deps
	$(BIN)/ruff check dedup tests benchmarks dashboards
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check dedup tests benchmarks dashboards
	$(BIN)/mypy

# Index throughput against the ceiling and the naive way in the same run, then the per-file
# cost of each worker stage. The 2.6 GB corpus is generated once into ~/.cache/dedup-bench.
# BENCH_ARGS=--quick for a 0.3 GB corpus; BASELINE=DIR measures another checkout's code too.
BENCH_ARGS ?=
BASELINE ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/index_throughput.py $(BENCH_ARGS) $(if $(BASELINE),--baseline $(BASELINE))
	$(BIN)/python benchmarks/worker_stages.py $(if $(BASELINE),--baseline $(BASELINE))

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache

# Matching at scale (1M archived signatures, 10k incoming; populations of look-alike studies
# of growing size, BASELINE=DIR beside) and matching accuracy (README).
bench-check: $(STAMP)
	$(BIN)/python benchmarks/check_latency.py

bench-match: $(STAMP)
	$(BIN)/python benchmarks/match_scale.py
	$(BIN)/python benchmarks/match_growth.py $(if $(BASELINE),--baseline $(BASELINE))

eval: $(STAMP) system-deps
	$(BIN)/python benchmarks/eval_matching.py --out eval-out --seeds 4 --population 1000 \
	  --population-patients 300 --json eval-out/eval.json

.PHONY: fuzz faults
FUZZ_SECONDS ?= 600

# Coverage-guided fuzzing of the DICOM reading path (atheris), bounded by FUZZ_SECONDS.
# Every distinct crash lands in .fuzz/crashes/ (summary.json counts them); each one becomes a
# case in tests/ingest/test_fuzz_read.py.
fuzz: $(STAMP)
	$(BIN)/python -c 'import atheris' 2>/dev/null || $(BIN)/pip install --quiet 'atheris>=2.3'
	mkdir -p .fuzz/corpus .fuzz/crashes
	$(BIN)/python fuzz/fuzz_read.py --seeds .fuzz/seeds
	DEDUP_FUZZ_KEEP_GOING=1 DEDUP_FUZZ_CRASHES=.fuzz/crashes RUST_BACKTRACE=0 \
	  $(BIN)/python fuzz/fuzz_read.py .fuzz/corpus .fuzz/seeds -max_total_time=$(FUZZ_SECONDS) \
	  -artifact_prefix=.fuzz/crashes/ -rss_limit_mb=4096 -timeout=30 -print_final_stats=1

# The nightly fault tests at full strength: 20 kill -9 points (half of them also kill the
# recovering run), PACS stopped / 500s / slow, disk full; against a real Orthanc.
faults: $(STAMP) system-deps
	DEDUP_KILL_POINTS=20 DEDUP_KILL_TWICE=1 $(BIN)/python -m pytest -q -s \
	  tests/e2e/test_nightly.py tests/ingest/test_orthanc.py
