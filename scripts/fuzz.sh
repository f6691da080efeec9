#!/bin/sh
# Runs every fuzz target of ./fuzz for FUZZTIME each (default 10s), one after
# the other, so the whole run takes about the number of targets times
# FUZZTIME plus the build. A target that finds a failing input makes the
# script fail at the end; Go saves the input under
# fuzz/testdata/fuzz/<target>/, where plain `go test ./fuzz` replays it.
#
#   scripts/fuzz.sh                      # every target, 10s each
#   FUZZTIME=1m scripts/fuzz.sh          # longer
#   FUZZ='^FuzzBatch' scripts/fuzz.sh    # only the targets matching a regexp
set -eu
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
filter=${FUZZ:-.}

targets=$(go test -list '^Fuzz' ./fuzz | grep '^Fuzz' | grep -E -- "$filter" || true)
if [ -z "$targets" ]; then
	echo "fuzz.sh: no fuzz target in ./fuzz matches $filter" >&2
	exit 1
fi

failed=""
for t in $targets; do
	echo "=== $t ($fuzztime)"
	if ! go test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzztime" ./fuzz; then
		failed="$failed $t"
	fi
done

if [ -n "$failed" ]; then
	echo "fuzz.sh: failing inputs found by:$failed" >&2
	exit 1
fi
echo "fuzz.sh: every target passed"
