package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/kinesistest"
	"github.com/go-pkg/inskinesis/partition"
)

// Timing of BenchmarkAggregationShardThroughput. The shard's token buckets
// hold one second's worth, so the first second of a run is a burst the
// shard could not sustain: records are counted only after aggWarmup, which
// drains it, for aggWindow.
const (
	aggWarmup = time.Second
	aggWindow = 3 * time.Second
)

// aggRecordSize is the data size of the benchmark's records.
const aggRecordSize = 100

// BenchmarkAggregationShardThroughput measures how many user records per
// second one shard takes from a stream, with and without KPL aggregation.
// The shard is a kinesistest stream of one shard enforcing AWS's write
// limits (1000 records and 1 MiB per second, partition keys included), the
// records are 100 bytes of data, and two goroutines put them as fast as the
// stream takes them. It runs on the real clock, as the shard limits must:
// each op is one run of aggWarmup plus aggWindow (about 4 s), and the
// metric records/s/shard counts the user records the server stored during
// the window (aggregates unpacked), divided by its length. Also reported:
// kinesis-records/s (the records the shard stored) and throttled/s (records
// the shard refused). ns/op is the length of one run and B/op and allocs/op
// count the server's work too: they say little here.
//
// Without aggregation the shard's record limit caps the stream at 1000
// records/s. With aggregation the byte limit does: about 1 MiB/s over the
// bytes one user record takes inside an aggregate (its data, its partition
// key unless the aggregate already holds it, and a few bytes of framing),
// so the sub-benchmarks vary the keys: a random UUID per record (36 bytes
// each, as partition.UUID gives), or 100 keys shared by all records.
//
// It is skipped with -short.
func BenchmarkAggregationShardThroughput(b *testing.B) {
	if testing.Short() {
		b.Skip("runs on the real clock for about 4 s per op")
	}
	cases := []struct {
		name      string
		aggregate bool
		keys      func([]byte) string
		rateLimit int
	}{
		{"plain/keys=uuid", false, partition.UUID[[]byte](), 0},
		{"aggregated/keys=uuid", true, partition.UUID[[]byte](), 0},
		{"aggregated/keys=100", true, aggSharedKeys(100), 0},
		{"aggregated/keys=100/ShardRateLimit=100", true, aggSharedKeys(100), 100},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var sum aggRun
			for range b.N {
				r := aggMeasure(b, inskinesis.Config[[]byte]{
					Codec:            codec.Bytes{},
					Partitioner:      tc.keys,
					AggregateRecords: tc.aggregate,
					ShardRateLimit:   tc.rateLimit,
				})
				sum.userRecords += r.userRecords
				sum.kinesisRecords += r.kinesisRecords
				sum.throttled += r.throttled
			}
			secs := float64(b.N) * aggWindow.Seconds()
			b.ReportMetric(float64(sum.userRecords)/secs, "records/s/shard")
			b.ReportMetric(float64(sum.kinesisRecords)/secs, "kinesis-records/s")
			b.ReportMetric(float64(sum.throttled)/secs, "throttled/s")
		})
	}
}

// aggSharedKeys returns a partitioner that cycles through n short keys.
func aggSharedKeys(n int) func([]byte) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	var next atomic.Uint64
	return func([]byte) string { return keys[next.Add(1)%uint64(n)] }
}

// aggRun is what one measured window saw.
type aggRun struct {
	userRecords    int // user records stored during the window
	kinesisRecords int // Kinesis records stored during the window
	throttled      int64
}

// aggMeasure runs a stream configured by cfg (its stream and client are
// filled in here) against a fresh one-shard server with AWS's shard
// limits, and counts what the server stored during the window.
func aggMeasure(b *testing.B, cfg inskinesis.Config[[]byte]) aggRun {
	b.Helper()
	srv, err := kinesistest.NewServer(kinesistest.WithShardLimits(kinesistest.AWSShardLimits()))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	const stream = "throughput"
	if err := srv.CreateStream(stream, 1); err != nil {
		b.Fatal(err)
	}
	cfg.StreamName = stream
	cfg.Client = srv.Client()
	// Enough records held to fill aggregates, and throttled records
	// retried (with the default backoff) without giving up. Shorter
	// backoffs were measured to change nothing but the number of
	// throttled records.
	cfg.MaxBatchSize = 20000
	cfg.MaxStreamBatchSize = 500
	cfg.RetryCount = 1 << 20
	s, err := inskinesis.NewKinesis(cfg)
	if err != nil {
		b.Fatal(err)
	}

	data := make([]byte, aggRecordSize)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	putUntil(b, s, data, 2, &stop, &wg)

	// The window is read from the records' arrival times, on the server's
	// clock (time.Now), so neither the warm-up nor the shutdown below
	// counts.
	time.Sleep(aggWarmup)
	throttled0 := srv.Stats().RecordsThrottled
	from := time.Now()
	time.Sleep(aggWindow)
	to := time.Now()
	throttled := srv.Stats().RecordsThrottled - throttled0

	// Stop at once: what is left is aborted, which is expected here.
	stop.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = s.Close(ctx)
	wg.Wait()

	recs, err := srv.Records(stream)
	if err != nil {
		b.Fatal(err)
	}
	run := aggRun{throttled: throttled}
	for _, r := range recs {
		if r.ArrivalTime.Before(from) || !r.ArrivalTime.Before(to) {
			continue
		}
		users, err := aggregation.Deaggregate(r.Kinesis())
		if err != nil {
			b.Fatalf("stored record %s: %v", r.SequenceNumber, err)
		}
		for _, u := range users {
			if len(u.Data) != aggRecordSize {
				b.Fatalf("stored record %s holds a user record of %d bytes, want %d", r.SequenceNumber, len(u.Data), aggRecordSize)
			}
		}
		run.kinesisRecords++
		run.userRecords += len(users)
	}
	return run
}

// putUntil starts n goroutines that put data into s as fast as they can
// until stop is set or the stream closes; wg counts them.
func putUntil(b *testing.B, s *inskinesis.Stream[[]byte], data []byte, n int, stop *atomic.Bool, wg *sync.WaitGroup) {
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := s.Put(data); err != nil {
					if !errors.Is(err, inskinesis.ErrClosed) {
						b.Error(err)
					}
					return
				}
			}
		}()
	}
}
