# esxsink — see README.md. Every target works offline once the Go modules are cached.
GO       ?= go
BIN      ?= bin/esxsink
LAB      ?= bin/esxsink-lab
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 10s
# Minimising a new input runs it again and again without counting execs;
# Go's default of 60s makes a short run sit at "0 execs/s" on the first
# interesting input whose files take a few milliseconds to build.
FUZZMINIMIZE ?= 2s

.PHONY: build test demo bench lint fuzz cross clean

# esxsink is the acquisition tool; esxsink-lab the simulated host for
# training, demos and tests, kept out of the acquisition binary.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/esxsink
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(LAB) ./cmd/esxsink-lab

test:
	$(GO) test -count=1 -timeout 30m ./...

demo: build
	bash examples/demo.sh $(BIN) $(LAB)

# Each benchmark runs esxsink and its peer side by side in one run and
# prints the ratio; absolute times on a shared machine are noise.
# The rows go to bench-results.jsonl and end as one table, also written
# as bench-results.json to compare runs; a missed target fails the run.
bench: build
	rm -f bench-results.jsonl
	ESXSINK_BENCH_OUT=$(CURDIR)/bench-results.jsonl $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 90m ./...
	$(GO) run ./internal/benchtable/cmd/benchtable -in bench-results.jsonl -out bench-results.json

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

# Runs every fuzz target briefly from its seed corpus (go test allows one
# target per invocation). A failing target gets up to two more runs: a real
# crash is saved under testdata/fuzz and fails again at once, while Go
# 1.26's fuzz coordinator sometimes reports a bare "context deadline
# exceeded" with no crasher (golang/go#75804).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t"; \
	    for attempt in 1 2 3; do \
	      if $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; then break; fi; \
	      if [ $$attempt = 3 ]; then exit 1; fi; \
	      echo "fuzz $$t failed (attempt $$attempt); running it again to tell a crash from a coordinator timeout"; \
	    done; \
	  done; \
	done

cross:
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/esxsink
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/esxsink-lab
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/esxsink

clean:
	rm -rf bin dist
