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

# crashers lists the inputs a target has recorded as failing, committed or
# not, so that a run can tell whether it found a new one.
crashers() { ls "fuzz/testdata/fuzz/$1" 2>/dev/null | sort; }

failed=""
for t in $targets; do
	echo "=== $t ($fuzztime)"
	before=$(crashers "$t")
	if go test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzztime" ./fuzz; then
		continue
	fi
	if [ "$(crashers "$t")" != "$before" ]; then
		failed="$failed $t" # a failing input, saved under fuzz/testdata/fuzz/$t
		continue
	fi
	# No failing input was saved: the fuzzing engine itself gave up (it can
	# report "context deadline exceeded" when -fuzztime ends while it is
	# minimising an input). Run the target once more.
	echo "fuzz.sh: $t failed without a failing input; running it again" >&2
	if ! go test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzztime" ./fuzz; then
		failed="$failed $t"
	fi
done

if [ -n "$failed" ]; then
	echo "fuzz.sh: failing inputs found by:$failed" >&2
	exit 1
fi
echo "fuzz.sh: every target passed"
