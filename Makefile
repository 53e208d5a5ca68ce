# sqldr build, lint and test entry points. `make test` is THE test command (README, .ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO            ?= go
BIN           := $(CURDIR)/bin
GOLANGCI_VER  := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_VER)
PKGS          := ./...
# Integration tests build and run containers; give the whole run room, each test bounds itself.
TEST_TIMEOUT  ?= 20m
REVISION      := $(shell git rev-parse --verify -q HEAD || echo unknown)
BUILD_TIME    := $(shell git show -s --format=%cI HEAD 2>/dev/null || echo unknown)
LDFLAGS       := -s -w -X main.buildRevision=$(REVISION) -X main.buildTime=$(BUILD_TIME)

# Tests that use testcontainers-go aim at the local engine, never at the machine's gateway.
export TESTCONTAINERS_RYUK_DISABLED := true
export TESTCONTAINERS_HOST_OVERRIDE := 127.0.0.1

.PHONY: build fmt lint vet windows test test-unit bench image demo clean

build: ## Build ./bin/sqldr (static, VCS-stamped)
	CGO_ENABLED=0 $(GO) build -buildvcs=true -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/sqldr ./cmd/sqldr

fmt: ## Format the tree
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

$(GOLANGCI_LINT):
	mkdir -p $(BIN)
	GOBIN=$(BIN) GOFLAGS= $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VER)
	mv $(BIN)/golangci-lint $(GOLANGCI_LINT)

lint: $(GOLANGCI_LINT) ## gofmt check + golangci-lint (config: .golangci.yml)
	@unformatted=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GOLANGCI_LINT) run $(PKGS)

vet:
	$(GO) vet $(PKGS)

# Nothing runs on Windows here: the Windows service, ACL checks and paths are built and vetted.
windows: ## Cross-build and vet the tree for GOOS=windows
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/sqldr
	GOOS=windows GOARCH=amd64 $(GO) vet $(PKGS)

test: vet windows lint ## THE test command: vet (Linux and Windows), lint, and every test with -race
	$(GO) test -race -shuffle=on -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

test-unit: ## Quick loop: tests without the race detector
	$(GO) test -count=1 $(PKGS)

bench: ## Benchmarks (figures go to docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

IMAGE ?= sqldr:dev
image: ## Build the container image $(IMAGE) without any registry (FROM scratch)
	mkdir -p $(BIN)/image
	CGO_ENABLED=0 GOOS=linux $(GO) build -buildvcs=true -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/image/sqldr ./cmd/sqldr
	cp /etc/ssl/certs/ca-certificates.crt $(BIN)/image/ca-certificates.crt
	docker build -t $(IMAGE) -f Dockerfile $(BIN)/image

demo: ## The lab, a third-site observer and the daemon in one process: a site-A disaster, end to end
	$(GO) run ./cmd/sqldr demo

clean:
	rm -rf $(BIN)
