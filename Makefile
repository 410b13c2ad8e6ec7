# Berth: `make serve` runs the registry on 127.0.0.1:5000; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= berth-data

.PHONY: serve test lint typecheck bench bench-quick bench-pg bench-s3 bench-scaling system-deps bench-deps apt-install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/berth serve --host 127.0.0.1 --port 5000 --data-dir $(DATA_DIR)

# Debian packages the tests drive (skopeo, PostgreSQL, Chromium for the console), installed when missing and running as root.
system-deps:
	@$(MAKE) --no-print-directory apt-install PROGRAMS="skopeo:skopeo initdb:postgresql chromium:chromium"

# Debian packages the benchmarks compare against.
bench-deps:
	@$(MAKE) --no-print-directory apt-install PROGRAMS="docker-registry:docker-registry nginx:nginx wrk:wrk ab:apache2-utils skopeo:skopeo"

apt-install:
	@missing=""; \
	for pair in $(PROGRAMS); do \
	  program=$${pair%%:*}; package=$${pair##*:}; \
	  command -v $$program >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/$$program >/dev/null 2>&1 || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (install them, or run as root)"; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) system-deps lint typecheck
	$(BIN)/pytest -q

bench: $(STAMP) bench-deps
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

bench-quick: $(STAMP) bench-deps
	$(BIN)/python benchmarks/run.py --quick $(BENCH_ARGS)

# How each figure grows with the work (blob size, tag count, repositories) and memory through a
# 5 GiB push and pull; a section of docs/performance.md, docs/performance-scaling.png.
bench-scaling: $(STAMP) bench-deps
	$(BIN)/python benchmarks/scaling.py $(BENCH_ARGS)

# Blob throughput on S3 (a SeaweedFS it starts) beside the filesystem; a section of docs/performance.md.
bench-s3: $(STAMP)
	$(BIN)/python benchmarks/s3_bench.py --out docs/performance.md

# Metadata workloads with Berth on PostgreSQL (a throwaway server it starts) beside SQLite and
# distribution; a section of docs/performance.md.
bench-pg: $(STAMP) bench-deps
	$(BIN)/python benchmarks/pg_bench.py --out docs/performance.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
