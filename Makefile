# Rebound's make targets. `make run` and `make test` are the two a new machine needs.
SHELL     := bash
.SHELLFLAGS := -eu -o pipefail -c
GO        ?= go
BIN       := $(CURDIR)/.bin
PKGS      := github.com/reboundhq/rebound/...
TOOLS     := $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: run test proto proto-check lint bench build tools

## run: start Rebound with everything embedded (NATS, services, sandbox, a demo hub driving it) in ./data
run:
	$(GO) run ./cmd/rebound dev --demo

## build: build the rebound binary into .bin/
build:
	$(GO) build -o $(BIN)/rebound ./cmd/rebound

STORES    := github.com/reboundhq/rebound/events/memstore github.com/reboundhq/rebound/events/natsstore

## test: every test of every module, with the race detector, against real embedded servers;
## the event store conformance suite is listed case by case for both implementations
test:
	@echo "==> event store conformance suite (in-memory and JetStream)"
	$(GO) test $(TESTFLAGS) -v -run '^TestStore$$' $(STORES) | grep -E '^\s*--- |^(ok|FAIL)\s'
	@echo "==> every package"
	$(GO) test $(TESTFLAGS) $(PKGS)

## bench: raw JetStream baselines and Rebound's figures from one run; writes bench-results.json
## (adds a PostgreSQL rebuild figure when REBOUND_POSTGRES_URL, by default the local server, answers)
bench: export REBOUND_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
bench:
	$(GO) run ./cmd/rebound bench --out bench-results.json

## tools: build buf and the protoc plugins from the tools module (pinned in tools/go.mod)
tools: $(TOOLS)
$(TOOLS) &: tools/go.mod tools/go.sum
	cd tools && GOWORK=off GOBIN=$(BIN) $(GO) install tool

## proto: regenerate proto/gen from proto/rebound
proto: $(TOOLS)
	rm -rf proto/gen
	cd proto && PATH="$(BIN):$$PATH" buf generate

## proto-check: fail when proto/gen is not what `make proto` produces
proto-check: proto
	@git diff --exit-code --stat -- proto/gen || { echo "proto/gen is stale: run make proto and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- proto/gen)" || { git status --porcelain -- proto/gen; echo "proto/gen has files make proto did not commit"; exit 1; }

## lint: buf lint, gofmt and go vet
lint: $(TOOLS)
	cd proto && PATH="$(BIN):$$PATH" buf lint
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^proto/gen/')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet $(PKGS)
