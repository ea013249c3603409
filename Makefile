# aftershock: one entry point for everything. Run as root (the lab creates
# network namespaces). Every target installs what it needs first.
SHELL := /bin/bash
export AFTERSHOCK_CACHE ?= $(CURDIR)/.cache
BIN := bin/aftershock
GO_PACKAGES := ./...

.PHONY: all deps build demo test bench lint docs report-screenshot

all: lint test

deps: ## install etcd, iproute2 and build the Kubernetes binaries if missing
	@hack/deps.sh

build:
	@mkdir -p bin
	go build -o bin/ ./cmd/aftershock ./cmd/aftershock-agent ./cmd/aftershock-service

demo: deps build ## run the flagship scenario (apt-ocalypse) on the embedded lab
	@hack/demo.sh

test: deps ## the whole suite, including the root-only lab tests
	go test -count=1 -timeout 45m $(GO_PACKAGES)

bench: deps build ## the figures the issues ask for: lab scale, fault fan-out, detection latency, demo time
	@hack/bench.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet $(GO_PACKAGES)

docs: ## regenerate docs/steps.md from the step library
	@mkdir -p docs
	go run ./cmd/aftershock steps --markdown > docs/steps.md

report-screenshot: deps ## render the newest report (or REPORT=dir) to index.png with headless Chromium
	@hack/report-screenshot.sh
