# coopguard — the commands a developer and CI need. `make test` is the whole
# suite; `make run` serves the functions locally on an emulated GCP.
SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GOBIN)/staticcheck
PORT ?= 8080
FUZZTIME ?= 3s
LONG_FUZZTIME ?= 5m

.PHONY: all build run test unit lint fuzz fuzz-long bench tools clean

all: test

build:
	$(GO) build -o bin/coopguard ./cmd/coopguard

run: build
	./bin/coopguard serve --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

## test: lint, unit and end-to-end tests with the race detector, short fuzzing.
test: lint unit fuzz

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

tools: $(STATICCHECK)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Every fuzz target, each for FUZZTIME (short in `make test`, long in fuzz-long).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

fuzz-long:
	$(MAKE) fuzz FUZZTIME=$(LONG_FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 5x -count 1 ./...

clean:
	rm -rf bin
