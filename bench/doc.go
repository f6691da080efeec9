// Package bench holds the benchmarks of the stream's hot path: batch
// splitting, the Put path to a client that answers at once, the whole path
// through the AWS SDK to a local HTTP server, the partitioners, and the heap
// held under sustained throttling. It has no API; run it with
//
//	go test -run='^$' -bench=. -benchmem -cpu=1,2 ./bench
//
// or scripts/bench.sh, which repeats the run and summarises it with
// benchstat.
//
// Besides ns/op, B/op and allocs/op (one op is one record unless a
// benchmark says otherwise), the benchmarks report:
//
//   - records/s: records per second of wall time;
//   - cpu-ns/rec: process CPU time (user plus system, every thread, the
//     garbage collector included) per record, on systems that report it.
//     Wall time per record falls as GOMAXPROCS grows; this does not, so it
//     shows what one record costs a machine whatever its core count;
//   - ratio: for the SDK benchmarks, the stream's records/s over those of a
//     loop sending pre-built 500-record requests through the same client;
//   - peak-heap-B and bound-B: for the throttling benchmark, the highest
//     heap in use seen during the run and the bound the configuration
//     implies.
package bench
