# ALTAR gateway. Every tool runs from the module's pinned dependencies
# (`go tool`); nothing is installed by hand.

GO        ?= go
TOOLS     := $(GO) tool -modfile=tools/go.mod
PKGS      := ./...
# A count, not a duration: Go 1.26's fuzz coordinator can end a timed run with a
# spurious "context deadline exceeded" (fixed in Go 1.27).
FUZZTIME  ?= 20000x
BENCHTIME ?= 1s
BENCHCOUNT ?= 6

.PHONY: all build deps test lint proto proto-check fuzz bench run validate clean

all: lint test

build:
	$(GO) build -o bin/altar ./cmd/altar

## run: what the README's Quickstart runs.
run:
	$(GO) run ./cmd/altar serve

validate:
	$(GO) run ./cmd/altar validate manifests/

## deps: the Debian and npm packages the tests need, installed when missing.
deps:
	scripts/deps

## test: the whole suite, with the race detector (installs what it needs).
test: deps
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	@# Allocation guarantees, without -race (under which sync.Pool drops items).
	$(GO) test -count=1 -run 'DoesNotAllocate|TestDigest' ./gateway/...

## lint: gofmt, go vet, staticcheck and buf lint.
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(TOOLS) staticcheck $(PKGS)
	$(TOOLS) buf lint

## proto: regenerate the Go (proto/), Python (examples/python-runtime/gen) and
## JavaScript + .d.ts (examples/node-runtime/gen) code from the protos. It first
## runs npm ci in examples/node-runtime when protoc-gen-es is missing (network).
proto:
	@# protoc-gen-es for the Node.js runtime comes from its lockfile.
	@test -x examples/node-runtime/node_modules/.bin/protoc-gen-es || \
		(cd examples/node-runtime && npm ci --no-audit --no-fund --loglevel=error)
	$(TOOLS) buf lint
	$(TOOLS) buf generate
	@# The Python runtime's vendored gRPC health service (go-plugin checks it).
	/usr/bin/protoc -I examples/python-runtime/proto --python_out=examples/python-runtime/gen \
		--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin --grpc_python_out=examples/python-runtime/gen \
		grpc_health/v1/health.proto

## proto-check: fail when the committed generated code is stale.
proto-check: proto
	@if [ -n "$$(git status --porcelain -- proto examples/python-runtime/gen examples/node-runtime/gen)" ]; then \
		echo "generated code is out of date; run 'make proto' and commit:"; \
		git status --porcelain -- proto examples/python-runtime/gen examples/node-runtime/gen; git diff --stat -- proto examples/python-runtime/gen examples/node-runtime/gen; exit 1; fi

## fuzz: run every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

## bench: every benchmark, BENCHCOUNT times (feed the output to benchstat).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) $(PKGS)

clean:
	rm -rf bin
