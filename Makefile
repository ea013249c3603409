# aftershock: one entry point for everything. Run as root (the lab creates
# network namespaces). Every target installs what it needs first.
SHELL := /bin/bash
export AFTERSHOCK_CACHE ?= $(CURDIR)/.cache
BIN := bin/aftershock
GO_PACKAGES := ./...

.PHONY: all deps kind-image build demo test bench lint docs report-screenshot soak

all: lint test

deps: ## install etcd, iproute2 and build the Kubernetes binaries if missing
	@hack/deps.sh

kind-image: deps ## where a Docker engine answers, build the offline kind node image (cached)
	@hack/kind-image.sh

build:
	@mkdir -p bin
	go build -o bin/ ./cmd/aftershock ./cmd/aftershock-agent ./cmd/aftershock-service

demo: deps build ## run the flagship scenario (apt-ocalypse) on the embedded lab
	@hack/demo.sh

# The kind tests (TestKind*) run after the rest, one package at a time, so
# that real kind clusters never share the two cores with the lab's tests.
# Where a Docker engine answers, they must run: a missing image fails them.
test: deps kind-image ## the whole suite, including the root-only lab and kind tests; fails if anything leaked
	@status=0; go test -count=1 -timeout 45m -skip '^TestKind' $(GO_PACKAGES) || status=$$?; \
	  echo "[test] kind tests: a real kind fleet, and apt-ocalypse.feature with --infra kind"; \
	  $$(hack/kind-image.sh --require-env) go test -count=1 -p 1 -timeout 40m -run '^TestKind' \
	    ./infra/kind/... ./cmd/aftershock/ || status=$$?; \
	  echo "[test] checking for leaked namespaces, processes, veths, kind containers and lab folders"; \
	  hack/leakcheck.sh || status=1; exit $$status

bench: deps build ## the figures the issues ask for: lab scale, fault fan-out, detection latency, demo time
	@hack/bench.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet $(GO_PACKAGES)

docs: ## regenerate docs/steps.md from the step library
	@mkdir -p docs
	go run ./cmd/aftershock steps --markdown > docs/steps.md

N ?= 20
soak: deps build ## the flagship N times (N=20): pass count, leaks, wall-time spread, runner RSS growth
	@hack/soak.sh $(N)

report-screenshot: deps ## render the newest report (or REPORT=dir) to index.png with headless Chromium
	@hack/report-screenshot.sh
