# temporal-registry: every target installs what it needs from scratch.
#   make run    the whole stack (Temporal dev server, registry, Envoy) in the foreground
#   make test   every check and test (what CI runs)

export UV_PYTHON_DOWNLOADS := never
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PY := .venv/bin/python
BIN := .venv/bin
# The branch `buf breaking` and the route check compare against.
BREAKING_AGAINST ?= main

.PHONY: install gen check lint breaking routes typecheck fmt test test-fast run clean

install: ## create .venv from uv.lock (installs uv with pip when missing)
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet --user uv
	$(UV) sync --frozen

gen: install ## regenerate gen/ and third_party/googleapis from proto/, and the reference docs
	$(PY) scripts/generate.py
	$(PY) -m registry.cli render-envoy --defaults -o gateway/envoy.yaml
	$(PY) scripts/reference_docs.py
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory gen-ts; \
	else echo "npm not found: examples/typescript-worker/src/gen not regenerated (make gen-ts)"; fi

# The TypeScript worker example's stubs (examples/typescript-worker/src/gen), made by buf
# with the protoc-gen-es plugin that `npm ci` installs in the example. Need node and npm.
TS_EXAMPLE := examples/typescript-worker
.PHONY: gen-ts check-ts

$(TS_EXAMPLE)/node_modules/.package-lock.json: $(TS_EXAMPLE)/package-lock.json
	cd $(TS_EXAMPLE) && npm ci --no-audit --no-fund

gen-ts: install $(TS_EXAMPLE)/node_modules/.package-lock.json ## regenerate the TypeScript example's stubs from proto/
	$(BIN)/buf generate --template $(TS_EXAMPLE)/buf.gen.yaml

check-ts: install $(TS_EXAMPLE)/node_modules/.package-lock.json ## fail when those stubs drift from proto/
	rm -rf .gen-check/ts
	$(BIN)/buf generate --template $(TS_EXAMPLE)/buf.gen.yaml -o .gen-check/ts
	diff -r .gen-check/ts/$(TS_EXAMPLE)/src/gen $(TS_EXAMPLE)/src/gen && echo "TypeScript stubs match proto/"

check: install lint breaking routes typecheck ## every static check
	$(UV) lock --check
	$(PY) scripts/generate.py --check
	$(PY) -m registry.cli render-envoy --defaults --check gateway/envoy.yaml
	$(PY) scripts/reference_docs.py --check

lint: install
	$(BIN)/buf lint
	$(BIN)/buf format --diff --exit-code proto
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

breaking: install ## buf breaking (FILE) against $(BREAKING_AGAINST); skipped when it has no protos
	@if git rev-parse --verify --quiet "$(BREAKING_AGAINST):proto" >/dev/null; then \
		$(BIN)/buf breaking --against ".git#ref=$(BREAKING_AGAINST)" && \
		echo "buf breaking: nothing breaks the contract on $(BREAKING_AGAINST)"; \
	else echo "buf breaking: no proto/ on $(BREAKING_AGAINST) yet, skipped"; fi

routes: install ## HTTP routes may be added, never changed or removed
	$(PY) scripts/check_routes.py --against $(BREAKING_AGAINST)

typecheck: install
	$(BIN)/mypy

fmt: install
	$(BIN)/buf format --write proto
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: check ## checks, then the whole pytest suite
	$(BIN)/pytest

test-fast: install ## unit tests only
	$(BIN)/pytest -m "not integration"

run: install ## Temporal dev server + registry + Envoy, Ctrl-C stops all three
	$(BIN)/temporal-registry up

clean:
	rm -rf .venv .temporal-registry .gen-check
