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

.PHONY: all build run test unit unit-race unit-race-slow unit-race-rest unit-race-e2e unit-stories build-race build-plain lint fuzz fuzz-long bench tools clean deploy undeploy shellcheck shellcheck-tool firestore-emulator chromium

all: test

build:
	$(GO) build -o bin/coopguard ./cmd/coopguard

run: build firestore-emulator
	./bin/coopguard serve --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

## test: lint and every test: each package's own tests, the end-to-end
## tests, the attack drills, the fault matrices, and each fuzz target's
## seed corpus (with the race detector where code runs concurrently; see
## STORIES below). They run side by side (output grouped per target): the
## suite is CPU-bound, and lint fills the cores the longest test packages
## leave idle at their end. What they need is installed first, one apt-get
## at a time. Fuzzing proper (new inputs) is `make fuzz`, which CI runs
## after the suite.
test: tools shellcheck-tool firestore-emulator chromium
	@$(MAKE) --no-print-directory -j6 --output-sync=target lint unit-race-slow unit-race-rest unit-race-e2e unit-stories

unit: firestore-emulator chromium
	@$(MAKE) --no-print-directory -j4 --output-sync=target unit-race-slow unit-race-rest unit-race-e2e unit-stories

# The longest-running packages first: `go test` starts packages in the
# order given, and one that starts last is the suite's critical path.
SLOW_PACKAGES := ./test/reliability ./test/trusted ./deploy ./cmd/coopguard ./test/pubsubemu \
  ./functions/respond ./provisioner

# The story suites are many cases, each one sequential story in an
# emulated project of its own: the attack catalogue (./attack), the cells
# of the fault matrices (test/reliability), posture's drifts, one check
# at a time (functions/posture TestChecks) and the end-to-end stories
# (test/e2e). Under the race detector they cost four to five times the
# CPU (attack: 164 CPU-s against 35), which alone put `make test` past 10
# minutes on 2 cores, so they run without it. What runs concurrently runs
# under it: every package's own tests, the storms and the four responders
# (test/reliability, test/trusted), and the end-to-end tests of
# concurrency (E2E_CONCURRENT: concurrent drills in 50 projects,
# deliveries and requests under load, duplicates, redeliveries, storms).
MATRIX_TESTS := ^Test[A-Za-z]*FaultMatrix$$
POSTURE_CHECKS := ^TestChecks$$
STORIES := $(MATRIX_TESTS)|$(POSTURE_CHECKS)
E2E_CONCURRENT := ^Test(FleetOf200SandboxesIn50Projects|HTTPFunctionsUnderLoad|ProvisionConcurrentRequestsCreateOnce|DuplicateDeliveriesMutateOnce|RevocationOncePerIncidentAcross100Redeliveries|StormOnContainedSandboxIsOneIncident)$$

# The module's packages are compiled once per mode (race, plain) before
# the targets that need them start: started side by side, each `go test`
# and `go vet` compiled its own copy. -trimpath makes a package's build
# independent of the directory that holds the source, so the deploy test
# that compiles the source staged for Cloud Functions reuses this build.
export GOFLAGS := -trimpath

# Library packages only: `go build ./...` also links the main packages,
# every time, and no test runs those binaries.
LIBRARIES = $$($(GO) list -f '{{if and .GoFiles (ne .Name "main")}}{{.ImportPath}}{{end}}' ./...)

build-race:
	$(GO) build -race $(LIBRARIES)

build-plain:
	$(GO) build $(LIBRARIES)

GOTEST := $(GO) test -count=1

# Each test binary starts its own Firestore emulator (Java); they map its
# classes from one archive (firestoreemu.EnvClassCache), which the first
# to start makes.
export COOPGUARD_FIRESTORE_CLASS_CACHE := $(CURDIR)/bin/firestore-classes

# The slowest packages and the rest run as two `go test`s side by side:
# `go test` counts a running test binary against -p (the cores) like a
# link, so in one the slow packages held both slots and the other fifty
# linked and ran one by one after them, on one core.
unit-race: unit-race-slow unit-race-rest

unit-race-slow: firestore-emulator chromium build-race
	$(GOTEST) -race -timeout 20m -skip '$(STORIES)' $(SLOW_PACKAGES)

unit-race-rest: firestore-emulator chromium build-race
	$(GOTEST) -race -timeout 20m -skip '$(STORIES)' $$($(GO) list ./... | grep -v -x -F $$($(GO) list $(SLOW_PACKAGES) ./attack ./test/e2e | sed 's/^/-e /'))

unit-race-e2e: firestore-emulator build-race
	$(GOTEST) -race -timeout 20m -run '$(E2E_CONCURRENT)' ./test/e2e

# attack and the matrices four cases at a time: half the matrices' cells
# wait on a hung call being cut off, not on a core.
unit-stories: firestore-emulator build-plain
	$(GOTEST) -timeout 20m -skip '$(E2E_CONCURRENT)' ./test/e2e
	$(GOTEST) -timeout 20m -parallel 4 ./attack
	$(GOTEST) -timeout 20m -parallel 4 -run '$(MATRIX_TESTS)' ./test/reliability
	$(GOTEST) -timeout 20m -run '$(POSTURE_CHECKS)' ./functions/posture

lint: tools shellcheck build-plain
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
