#!/usr/bin/env bash
# The project's test command.
#
#   scripts/test.sh                 # vet and test every package, with -race
#   scripts/test.sh -run Kinesalite # extra arguments go to `go test`
#
# Needs Go and Node.js 20 (with npm) on PATH, and nothing else. It
#   1. downloads the Go modules,
#   2. installs the Node.js packages pinned in testenv/ (kinesalite, a local
#      Kinesis server, and aws-kinesis-agg, for the aggregation interop tests),
#   3. starts kinesalite on 127.0.0.1 on a free port,
#   4. runs `go vet ./...` (also for linux/arm64, linux/386 and with
#      -tags noasm, and `go build ./...` for darwin/arm64: other
#      architectures build, nothing runs there) and
#      `go test -race -count=1 ./...` (and `go test -short` for 32-bit
#      linux/386, where 64-bit atomics and sizes differ) with
#      INSKINESIS_KINESALITE_ENDPOINT and INSKINESIS_NODE_MODULES set, so that
#      the tests that need them run instead of skipping, in the root module
#      and then in each nested module (the metric adapters in plugin/ and the
#      examples that need them, which have go.mod files of their own so that
#      the root module depends on no metrics library),
#   5. stops kinesalite, whatever the outcome, and exits non-zero when vet or
#      any test failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for tool in go node npm; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH; this script needs Go and Node.js 20 with npm"
done

start=$SECONDS

# The nested modules: `go test ./...` in the root leaves them out.
nested_modules=(plugin/inprom plugin/inotel examples/metrics)

log "downloading Go modules"
go mod download
for mod in "${nested_modules[@]}"; do
	(cd "$mod" && go mod download)
done

log "installing testenv/ Node.js packages"
(
	cd testenv
	if [[ -f package-lock.json ]]; then
		npm ci --no-audit --no-fund --loglevel=error
	else
		npm install --no-audit --no-fund --loglevel=error
	fi
)
node_modules="$root/testenv/node_modules"
[[ -d "$node_modules/kinesalite" ]] || die "npm did not install kinesalite into $node_modules"

workdir="$(mktemp -d)"
kinesalite_pid=""
cleanup() {
	if [[ -n "$kinesalite_pid" ]] && kill -0 "$kinesalite_pid" 2>/dev/null; then
		kill "$kinesalite_pid" 2>/dev/null || true
		wait "$kinesalite_pid" 2>/dev/null || true
	fi
	rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_kinesalite starts kinesalite on 127.0.0.1 and sets kinesalite_pid and
# kinesalite_port. kinesalite listens on port 0, so the kernel picks a free
# port and nothing can take it between picking and listening; the server
# writes the port it got to a file once it listens. Its CLI binds every
# interface and has no host flag, so it is started from Node.js instead.
start_kinesalite() {
	local portfile="$workdir/port" logfile="$workdir/kinesalite.log"
	rm -f "$portfile"
	(
		cd testenv
		exec node -e '
			const fs = require("fs");
			const server = require("kinesalite")({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000});
			server.on("error", (err) => { console.error(err); process.exit(1); });
			server.listen(0, "127.0.0.1", () => {
				fs.writeFileSync(process.argv[1] + ".tmp", String(server.address().port));
				fs.renameSync(process.argv[1] + ".tmp", process.argv[1]);
			});
			process.on("SIGTERM", () => server.close(() => process.exit(0)));
		' "$portfile"
	) >"$logfile" 2>&1 &
	kinesalite_pid=$!

	# Wait for the port, then for a connection, for at most 20 s.
	local deadline=$((SECONDS + 20))
	kinesalite_port=""
	while ((SECONDS < deadline)); do
		if ! kill -0 "$kinesalite_pid" 2>/dev/null; then
			log "kinesalite exited before it listened; its output:"
			cat "$logfile" >&2
			kinesalite_pid=""
			return 1
		fi
		if [[ -z "$kinesalite_port" && -s "$portfile" ]]; then
			kinesalite_port="$(<"$portfile")"
		fi
		if [[ -n "$kinesalite_port" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$kinesalite_port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	log "kinesalite did not accept connections within 20 s; its output:"
	cat "$logfile" >&2
	kill "$kinesalite_pid" 2>/dev/null || true
	wait "$kinesalite_pid" 2>/dev/null || true
	kinesalite_pid=""
	return 1
}

log "starting kinesalite"
started=""
for attempt in 1 2 3; do
	if start_kinesalite; then
		started=1
		break
	fi
	log "kinesalite start attempt $attempt failed"
done
[[ -n "$started" ]] || die "could not start kinesalite on 127.0.0.1 (testenv/node_modules/kinesalite); see its output above"

export INSKINESIS_KINESALITE_ENDPOINT="http://127.0.0.1:$kinesalite_port"
export INSKINESIS_NODE_MODULES="$node_modules"
log "kinesalite is listening on $INSKINESIS_KINESALITE_ENDPOINT (pid $kinesalite_pid)"

status=0
log "go vet ./..."
go vet ./... || status=$?

# The SIMD code of dependencies is per architecture: check that the library
# and its tests build on arm64, on 32-bit linux/386 and without assembly, and
# the library alone on darwin/arm64.
log "go vet ./... for linux/arm64 and linux/386, and with -tags noasm"
GOOS=linux GOARCH=arm64 go vet ./... || status=$?
GOOS=linux GOARCH=386 go vet ./... || status=$?
go vet -tags noasm ./... || status=$?
log "go build ./... for darwin/arm64"
GOOS=darwin GOARCH=arm64 go build ./... || status=$?

log "go test -race -count=1 ./... $*"
test_status=0
go test -race -count=1 ./... "$@" || test_status=$?
if ((status == 0)); then
	status=$test_status
fi

# 32-bit: ints of 32 bits and 64-bit atomics that must be aligned. The race
# detector does not run there; -short keeps the long tests short.
log "linux/386: go test -short -count=1 ./... $*"
test_status=0
GOARCH=386 go test -short -count=1 ./... "$@" || test_status=$?
if ((status == 0)); then
	status=$test_status
fi

for mod in "${nested_modules[@]}"; do
	log "$mod: go vet ./... and go test -race -count=1 ./... $*"
	mod_status=0
	(cd "$mod" && go vet ./... && go test -race -count=1 ./... "$@") || mod_status=$?
	if ((status == 0)); then
		status=$mod_status
	fi
done

if ((status == 0)); then
	log "all passed in $((SECONDS - start)) s"
else
	log "FAILED (status $status) after $((SECONDS - start)) s"
fi
exit "$status"
