# coopguard — the commands a developer and CI need. `make test` is the whole
# suite; `make run` serves the functions locally on an emulated GCP.
SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GOBIN)/staticcheck
PORT ?= 8080
FUZZTIME ?= 20000x
LONG_FUZZTIME ?= 5m
BENCHTIME ?= 1s

.PHONY: all build run test unit lint fuzz fuzz-long bench tools clean deploy undeploy shellcheck firestore-emulator chromium

all: test

build:
	$(GO) build -o bin/coopguard ./cmd/coopguard

run: build firestore-emulator
	./bin/coopguard serve --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

## test: lint, unit and end-to-end tests with the race detector, short fuzzing.
test: lint unit fuzz

unit: firestore-emulator chromium
	$(GO) test -race -count=1 -timeout 20m ./...

lint: tools shellcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

tools: $(STATICCHECK)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Every fuzz target, each for FUZZTIME (short in `make test`, long in fuzz-long).
# One `go list` for all packages: one per package cost seconds each on a
# loaded machine.
fuzz:
	@set -e; for line in $$($(GO) list -f '{{.ImportPath}}={{.Dir}}' ./...); do \
	  pkg=$${line%%=*}; dir=$${line#*=}; \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

fuzz-long:
	$(MAKE) fuzz FUZZTIME=$(LONG_FUZZTIME)

bench:
	@set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count 1 -timeout 30m ./... 2>&1 | $(GO) run ./test/benchtable

clean:
	rm -rf bin

## deploy: deploy (or converge) coopguard in a GCP project with gcloud, e.g.
## make deploy PROJECT=my-project REGION=us-central1 [DRY_RUN=1]; see README, Deploy.
deploy:
	PROJECT="$(PROJECT)" REGION="$(REGION)" DRY_RUN="$(DRY_RUN)" deploy/deploy.sh

## undeploy: remove what deploy created (the sandbox itself is left alone).
undeploy:
	PROJECT="$(PROJECT)" REGION="$(REGION)" DRY_RUN="$(DRY_RUN)" deploy/undeploy.sh

## shellcheck: check the deploy scripts; installs shellcheck when missing.
shellcheck:
	@command -v shellcheck >/dev/null || { \
	  echo "shellcheck not found: installing it with apt-get"; \
	  apt-get install -y shellcheck || { apt-get update && apt-get install -y shellcheck; } || \
	  { echo "could not install shellcheck: run apt-get install shellcheck as root"; exit 1; }; }
	shellcheck -x $$(find . -name "*.sh" -not -path "./.git/*")

## chromium: the headless browser the HTML incident report is tested in
## (shared/render); installs Debian's chromium with apt-get when missing.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "chromium not found: installing it with apt-get"; \
	  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; } || \
	  { echo "could not install chromium: run apt-get install chromium as root"; exit 1; }; }

## firestore-emulator: the real Firestore emulator that tests and `make run`
## use (Java); installs it with apt-get when missing.
FIRESTORE_EMULATOR_JAR := $(shell sdk=$$(dirname "$$(dirname "$$(readlink -f "$$(command -v gcloud)" 2>/dev/null)")"); echo "$${sdk:-/usr/lib/google-cloud-sdk}/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar")
firestore-emulator:
	@test -e "$(FIRESTORE_EMULATOR_JAR)" && command -v java >/dev/null || { \
	  echo "Firestore emulator not found: installing google-cloud-cli-firestore-emulator with apt-get"; \
	  apt-get install -y google-cloud-cli-firestore-emulator openjdk-17-jre-headless || \
	  { apt-get update && apt-get install -y google-cloud-cli-firestore-emulator openjdk-17-jre-headless; } || \
	  { echo "could not install it: run apt-get install google-cloud-cli-firestore-emulator as root"; exit 1; }; }
