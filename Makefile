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

.PHONY: all build run test unit unit-race unit-catalogues lint fuzz fuzz-long bench tools clean deploy undeploy shellcheck shellcheck-tool firestore-emulator chromium

all: test

build:
	$(GO) build -o bin/coopguard ./cmd/coopguard

run: build firestore-emulator
	./bin/coopguard serve --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

## test: lint, unit and end-to-end tests (with the race detector, but for
## the two catalogues below), short fuzzing. They run side by side (output
## grouped per target): the suite is CPU-bound, and lint and fuzz fill the
## cores the longest test packages leave idle at their end. What they need
## is installed first, one apt-get at a time.
test: tools shellcheck-tool firestore-emulator chromium
	@$(MAKE) --no-print-directory -j4 --output-sync=target lint unit-race unit-catalogues fuzz

unit: firestore-emulator chromium
	@$(MAKE) --no-print-directory -j2 --output-sync=target unit-race unit-catalogues

# The longest-running packages first: `go test` starts packages in the
# order given, and one that starts last is the suite's critical path.
SLOW_PACKAGES := ./test/reliability ./test/e2e ./test/trusted ./functions/posture ./deploy ./cmd/coopguard

# The catalogues are many cases, each one sequential story in an emulated
# project of its own: every drill of the attack catalogue (./attack) and
# every cell of the fault matrices (test/reliability). Under the race
# detector they cost four to five times the CPU, which alone put `make
# test` past 10 minutes on 2 cores; they run without it. The concurrency
# they exercise (HandleLogEntry under Eventarc, a response's parallel
# actions, redeliveries) runs under it in test/e2e, test/trusted and the
# storms.
CATALOGUE_PACKAGES := ./attack ./test/reliability
CATALOGUE_TESTS := ^Test[A-Za-z]*FaultMatrix$$

unit-race: firestore-emulator chromium
	$(GO) test -race -count=1 -timeout 20m -skip '$(CATALOGUE_TESTS)' \
	  $(SLOW_PACKAGES) $$($(GO) list ./... | grep -v '/attack$$')

# Four cases at a time: half the matrices' cells wait on a hung call
# being cut off, not on a core.
unit-catalogues: firestore-emulator
	$(GO) test -count=1 -timeout 20m -parallel 4 ./attack
	$(GO) test -count=1 -timeout 20m -parallel 4 -run '$(CATALOGUE_TESTS)' ./test/reliability

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
shellcheck: shellcheck-tool
	shellcheck -x $$(find . -name "*.sh" -not -path "./.git/*")

shellcheck-tool:
	@command -v shellcheck >/dev/null || { \
	  echo "shellcheck not found: installing it with apt-get"; \
	  apt-get install -y shellcheck || { apt-get update && apt-get install -y shellcheck; } || \
	  { echo "could not install shellcheck: run apt-get install shellcheck as root"; exit 1; }; }

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
