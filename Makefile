# Gatehouse build. `make build` needs only Go and network access to the npm
# registry (for the pinned front-end libraries); `make test` also installs the
# test programs (scripts/test-deps.sh).

GO       ?= go
# Override on the command line: make build VERSION=1.2.3
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
FUZZTIME ?= 10s
FUZZPKGS ?= ./model ./handlers
ARGS     ?=

LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BUILD   := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

.PHONY: all assets build run test bench fuzz release clean

all: build

assets:
	bash scripts/fetch-assets.sh

build: assets
	$(BUILD) -o bin/gatehouse .

run: build
	./bin/gatehouse serve $(ARGS)

# test-deps.sh first: on a fresh machine it installs what the asset fetch
# needs too (curl, CA certificates).
test:
	bash scripts/test-deps.sh
	bash scripts/fetch-assets.sh
	@echo "gofmt -l"; \
	files="$$(git ls-files --cached --others --exclude-standard '*.go')"; \
	bad="$$(if [ -n "$$files" ]; then "$$($(GO) env GOROOT)/bin/gofmt" -l $$files </dev/null; fi)"; \
	if [ -n "$$bad" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$bad"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	"$$($(GO) env GOBIN | grep . || echo "$$($(GO) env GOPATH | cut -d: -f1)/bin")/staticcheck" ./...
	$(GO) test -race -count=1 -timeout 25m ./...

# make bench measures the real binary with wrk and prints ratios (see
# scripts/bench.sh and the README's Performance section); not part of test.
bench:
	GO=$(GO) bash scripts/bench.sh

fuzz:
	@set -e; for pkg in $(FUZZPKGS); do \
		list="$$($(GO) test -list 'Fuzz.*' $$pkg)"; \
		for name in $$(printf '%s\n' "$$list" | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

release: assets
	GOOS=linux GOARCH=amd64 $(BUILD) -o dist/gatehouse-linux-amd64 .
	GOOS=linux GOARCH=arm64 $(BUILD) -o dist/gatehouse-linux-arm64 .
	cd dist && sha256sum gatehouse-* > SHA256SUMS

clean:
	rm -rf bin/ dist/ assets/vendor/ handlers/internal/browsertest/testdata/vendor/
