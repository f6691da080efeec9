#!/bin/sh
# Runs the benchmarks of ./bench COUNT times (default 6) with -benchmem,
# saves the raw output under bench/results/ (not committed) and prints a
# benchstat summary. A default run takes about 4 minutes on 2 cores.
#
#   scripts/bench.sh                         # every benchmark
#   COUNT=10 scripts/bench.sh                # more runs, tighter intervals
#   BENCH='Put$' BENCHTIME=2s scripts/bench.sh   # one group, as go test -bench
#   CPU=1,2,4 scripts/bench.sh               # GOMAXPROCS values (default 1,2)
#   BASE=bench/results/old.txt scripts/bench.sh  # compare with an earlier run
#   PROFILE='BenchmarkPut$/codec=bytes$' scripts/bench.sh
#                                            # also write CPU and memory profiles
#
# Ops are records unless a benchmark's doc says otherwise. cpu-ns/rec is the
# process CPU time per record: on a shared machine it is steadier than
# ns/op, which counts wall time.
set -eu
cd "$(dirname "$0")/.."

count=${COUNT:-6}
cpu=${CPU:-1,2}
out=bench/results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw="$out/bench-$stamp.txt"

benchstat=$(command -v benchstat || true)
if [ -z "$benchstat" ]; then
	benchstat="$(go env GOPATH)/bin/benchstat"
	if [ ! -x "$benchstat" ]; then
		echo "bench.sh: installing benchstat" >&2
		go install golang.org/x/perf/cmd/benchstat@latest
	fi
fi

{
	echo "# $(date -u) $(go version)"
	echo "# nproc: $(nproc 2>/dev/null || echo ?)"
	grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/^/# /' || true
	echo "# load: $(cat /proc/loadavg 2>/dev/null || echo ?)"
} >"$raw"

run() { # regexp benchtime cpus
	go test -run='^$' -bench="$1" -benchtime="$2" -cpu="$3" -count="$count" \
		-benchmem -timeout=60m ./bench | tee -a "$raw"
}

if [ -n "${BENCH:-}" ]; then
	run "$BENCH" "${BENCHTIME:-1s}" "$cpu"
else
	# The batch benchmarks run on one goroutine: GOMAXPROCS does not matter.
	run '^Benchmark(Split|Cut)$' 100ms 1
	run '^BenchmarkPut(Parallel)?$' 300ms "$cpu"
	run '^BenchmarkPartition$' 200ms "$cpu"
	run '^BenchmarkSDK$' 1s "$cpu"
	run '^BenchmarkThrottledHeap$' 1s "$cpu"
	run '^BenchmarkBufferedHeap$' 2x 2
	run '^Benchmark(CancelledFlush|TryPutRefused|PutSync)$' 300ms "$cpu"
fi

if [ -n "${PROFILE:-}" ]; then
	go test -run='^$' -bench="$PROFILE" -benchtime="${BENCHTIME:-2s}" -cpu=1 -count=1 \
		-cpuprofile="$out/cpu-$stamp.prof" -memprofile="$out/mem-$stamp.prof" \
		-o "$out/bench-$stamp.test" ./bench >/dev/null
	echo "profiles: go tool pprof $out/bench-$stamp.test $out/cpu-$stamp.prof (or mem-$stamp.prof)"
fi

echo
echo "raw results: $raw"
if [ -n "${BASE:-}" ]; then
	"$benchstat" "$BASE" "$raw"
else
	"$benchstat" "$raw"
fi
