# smsgate: `make demo` to try it, `make test` for everything CI runs.

GO       ?= go
FUZZTIME ?= 3s
LDFLAGS  := -s -w
# The modem speaks HTTP/1.x: no HTTP/2 in net/http. Release builds for the
# Pi also leave out the simulator and the demo (nosim). BENCHMARKS.md has
# what each saves.
TAGS     := nethttpomithttp2
RELTAGS  := $(TAGS),nosim
CROSS    := CGO_ENABLED=0 GOOS=linux
EXE      := $(shell $(GO) env GOEXE)
# A release that knows this Go (1.26); run by version, so nothing to install.
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Where `go build`, `go test` and `make demo` must keep working.
OTHER_OS := darwin/amd64 darwin/arm64 windows/amd64
FUZZ     := FuzzProbeAnswers FuzzParseUbusAnswer FuzzRedOpen FuzzReadContent FuzzDecodeJSONObject \
            FuzzDecodeContent FuzzDecodeNumber FuzzParseSMSDate FuzzContentRoundTrip \
            FuzzParseLenientJSON FuzzUndoubleQuotes FuzzParseConfigJS FuzzParseCommand FuzzParseIRCode \
            FuzzProgramArgv FuzzRedactBody FuzzTOTPCheck FuzzSanitizeText FuzzReadAnswer \
            FuzzHiLinkAnswer FuzzHiLinkSMSList FuzzHiLinkTokens FuzzHiLinkCESU8 FuzzRedactXML FuzzRedactUbus \
            FuzzForwardDecision FuzzUSSDCode FuzzParsePauseRequest \
            FuzzDecodeDeliverPDU FuzzEncodeSubmit FuzzATLines FuzzParseCMGL FuzzParseATAnswer

# skip prints one loud line for a test the machine cannot run; under CI
# (which installs everything) a skip is a failure.
skip = echo "*** SKIPPED: $(1): $(2) is missing; install it with: apt-get install $(3)"; \
	if [ -n "$$CI" ]; then echo "*** CI must not skip tests"; exit 1; fi

.PHONY: all build arm arm64 deb deb-test vet other-os unit fuzz smoke vmtest test demo bench clean

all: build

build:
	$(GO) build -tags $(TAGS) -o smsgate$(EXE) .

# 32-bit: Raspberry Pi OS 32-bit, buildroot. 64-bit: gokrazy, Pi OS 64-bit.
arm:
	$(CROSS) GOARCH=arm GOARM=7 $(GO) build -tags $(RELTAGS) -trimpath -ldflags "$(LDFLAGS)" -o smsgate-linux-arm .

arm64:
	$(CROSS) GOARCH=arm64 $(GO) build -tags $(RELTAGS) -trimpath -ldflags "$(LDFLAGS)" -o smsgate-linux-arm64 .

# Raspberry Pi OS packages of the two release binaries, with Debian's
# dpkg-deb: smsgate_$(VERSION)_armhf.deb and _arm64.deb. VERSION comes from
# the nearest tag (packaging/version.sh); set it to override.
VERSION ?= $(shell packaging/version.sh)
deb: arm arm64
	@test -n "$(VERSION)" || { echo "no VERSION (packaging/version.sh failed)"; exit 1; }
	packaging/build-deb.sh armhf smsgate-linux-arm '$(VERSION)' .
	packaging/build-deb.sh arm64 smsgate-linux-arm64 '$(VERSION)' .

# Installs both packages as a user would, with dpkg -i in a Debian root of
# their architecture under qemu user emulation (proot: no binfmt_misc),
# and lintian. Not part of `make test`; packaging/test-deb.sh says what it
# needs.
deb-test: deb
	packaging/test-deb.sh '$(VERSION)' armhf arm64

vet:
	$(GO) vet ./...
	$(GO) vet -tags smoke,vmtest ./...
	$(GO) vet -tags bench,vmtest ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags smoke,vmtest ./...

# macOS and Windows: the command and the tests build and vet (Linux-only
# parts have _other.go stand-ins).
other-os:
	@for p in $(OTHER_OS); do \
		echo "vet, build and test -c for $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./... && \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -tags $(TAGS) -o /dev/null . && \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) test -c -o /dev/null . || exit 1; \
	done

# The parsers and the web client again with a 32-bit int, as on the arm
# release: a size from the network that fits 64 bits may not fit 32. They
# run as linux/arm itself under qemu user emulation, so no optional feature
# of the host kernel (IA32 emulation for GOARCH=386) is needed; 386 is only
# vetted.
INT32_TESTS := Fuzz|ReadAnswer|WebClient|Cookie|Decode|Parse|Codec|Redact|Inbox|Capacity
unit:
	$(GO) test -race -count=1 ./...
	GOARCH=386 $(GO) vet .
	@if command -v qemu-arm-static >/dev/null; then \
		echo "32-bit int: linux/arm tests under qemu-arm-static"; \
		$(CROSS) GOARCH=arm GOARM=7 $(GO) test -exec qemu-arm-static -count=1 -run '$(INT32_TESTS)' . ; \
	else $(call skip,32-bit parser tests as linux/arm,qemu-arm-static,qemu-user-static); fi

# Go 1.26's fuzzing coordinator can fail a target as -fuzztime ends, with
# "context deadline exceeded" and no failing input (go.dev/issue/75804,
# fixed in Go 1.27; CI saw it once in 14 targets). A failure that wrote an
# input fails at once; one that wrote none is run again, at most twice, and
# must pass then.
fuzz:
	@for t in $(FUZZ); do \
		echo "fuzz $$t for $(FUZZTIME)"; \
		before=$$(ls testdata/fuzz/$$t 2>/dev/null | wc -l); \
		for try in 1 2 3; do \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) . && break; \
			[ "$$(ls testdata/fuzz/$$t 2>/dev/null | wc -l)" = "$$before" ] || exit 1; \
			[ $$try -lt 3 ] || exit 1; \
			echo "*** $$t failed without a failing input (go.dev/issue/75804): again"; \
		done; \
	done

smoke: arm arm64
	@if command -v qemu-arm-static >/dev/null && command -v qemu-aarch64-static >/dev/null; then \
		SMSGATE_BIN_DIR=$(CURDIR) $(GO) test -tags smoke -run TestCrossBinaries -count=1 -v . ; \
	else $(call skip,ARM binaries under qemu user emulation,qemu-arm-static,qemu-user-static); fi

vmtest:
	@if command -v qemu-system-aarch64 >/dev/null; then \
		$(GO) test -tags vmtest -run TestVM -count=1 -v -timeout 15m . ; \
	else $(call skip,VM tests on a real arm64 kernel,qemu-system-aarch64,qemu-system-arm); fi

test: vet other-os unit fuzz smoke vmtest

# bench writes BENCHMARKS.md in under 10 minutes: sizes, CPU beside a
# minimal Go poller and curl, latency, start, the Go benchmarks, and RSS on
# the arm64 kernel in the VM (5-minute soak). BENCH_QUICK=1 leaves the VM
# parts out (the file says so). Needs curl (apt-get install curl) and
# qemu-system-aarch64 (apt-get install qemu-system-arm). Not run by CI.
bench:
	$(GO) test -tags bench,vmtest -run '^TestBenchmarksMD$$' -count=1 -v -timeout 30m .

demo: build
	./smsgate$(EXE) demo

clean:
	rm -f smsgate smsgate.exe smsgate-linux-arm smsgate-linux-arm64 smsgate_*.deb
	rm -rf build
