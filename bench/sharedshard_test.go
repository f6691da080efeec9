package bench

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// Timing of BenchmarkSharedShardRateLimit: each op runs the producers for
// sharedWarmup, which lets the shard's one-second burst drain and the rate
// limiters settle, and then counts for sharedWindow.
const (
	sharedWarmup = 2 * time.Second
	sharedWindow = 4 * time.Second
)

// BenchmarkSharedShardRateLimit measures what ShardRateLimit does when
// several producers write to one shard. Each producer is a stream of its
// own (as separate processes would be) with ShardRateLimit 100: each allows
// itself the whole shard, 1000 records/s, so together they offer the shard
// several times what it takes. The shard is a kinesistest stream of one
// shard enforcing AWS's write limits (1000 records and 1 MiB per second,
// each a token bucket holding one second), the records are 100 bytes of
// data, plain (not aggregated), and two goroutines per producer put them as
// fast as their stream takes them. RetryCount is raised so that no record
// is given up on, whatever counts as a retry.
//
// One op is one run on the real clock, as the shard limits must be: about
// 6 s. Reported, over the window after the warm-up:
//
//   - records/s: records the shard stored per second (it takes 1000);
//   - delivered-%: the same, in percent of the shard's 1000 records/s;
//   - throttled-%: entries the shard refused, in percent of the entries it
//     was sent (stored plus refused);
//   - min-share-%: the records of the producer that stored fewest, in
//     percent of an equal share of the total (100 is perfectly fair).
//
// ns/op, B/op and allocs/op count a whole run, the server's work included:
// they say little here. It is skipped with -short.
func BenchmarkSharedShardRateLimit(b *testing.B) {
	if testing.Short() {
		b.Skip("runs on the real clock for about 6 s per op")
	}
	for _, producers := range []int{1, 3} {
		b.Run("producers="+strconv.Itoa(producers), func(b *testing.B) {
			var sum sharedRun
			minShare := 100.0
			for range b.N {
				r := sharedMeasure(b, producers)
				sum.stored += r.stored
				sum.throttled += r.throttled
				minShare = min(minShare, r.minShare)
			}
			secs := float64(b.N) * sharedWindow.Seconds()
			b.ReportMetric(float64(sum.stored)/secs, "records/s")
			b.ReportMetric(100*float64(sum.stored)/secs/1000, "delivered-%")
			b.ReportMetric(100*float64(sum.throttled)/float64(sum.stored+sum.throttled), "throttled-%")
			b.ReportMetric(minShare, "min-share-%")
		})
	}
}

// sharedRun is what one measured window saw.
type sharedRun struct {
	stored, throttled int64
	minShare          float64
}

// sharedMeasure runs producers streams against a fresh one-shard server and
// counts what the shard stored and refused during the window.
func sharedMeasure(b *testing.B, producers int) sharedRun {
	b.Helper()
	srv, err := kinesistest.NewServer(kinesistest.WithShardLimits(kinesistest.AWSShardLimits()))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	const stream = "shared"
	if err := srv.CreateStream(stream, 1); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, aggRecordSize)
	for i := range data {
		data[i] = byte('a' + i%26)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	streams := make([]*inskinesis.Stream[[]byte], producers)
	for p := range producers {
		// Keys name their producer, so that the store tells them apart.
		prefix := "p" + strconv.Itoa(p) + "-"
		var n atomic.Uint64
		s, err := inskinesis.NewKinesis(inskinesis.Config[[]byte]{
			StreamName:     stream,
			Client:         srv.Client(),
			Codec:          codec.Bytes{},
			Partitioner:    func([]byte) string { return prefix + strconv.FormatUint(n.Add(1), 10) },
			ShardRateLimit: 100,
			RetryCount:     1 << 20,
		})
		if err != nil {
			b.Fatal(err)
		}
		streams[p] = s
		putUntil(b, s, data, 2, &stop, &wg)
	}

	// The window is read from the records' arrival times, on the server's
	// clock (time.Now), so neither the warm-up nor the shutdown counts.
	time.Sleep(sharedWarmup)
	st0 := srv.Stats()
	from := time.Now()
	time.Sleep(sharedWindow)
	to := time.Now()
	st1 := srv.Stats()

	// Stop at once: what is left is aborted, which is expected here.
	stop.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	for _, s := range streams {
		_ = s.Close(ctx)
	}
	wg.Wait()

	recs, err := srv.Records(stream)
	if err != nil {
		b.Fatal(err)
	}
	per := make([]int64, producers)
	run := sharedRun{throttled: st1.RecordsThrottled - st0.RecordsThrottled}
	for _, r := range recs {
		if r.ArrivalTime.Before(from) || !r.ArrivalTime.Before(to) {
			continue
		}
		p, _, _ := strings.Cut(strings.TrimPrefix(r.PartitionKey, "p"), "-")
		i, err := strconv.Atoi(p)
		if err != nil || i >= producers {
			b.Fatalf("stored record %s has key %q", r.SequenceNumber, r.PartitionKey)
		}
		per[i]++
		run.stored++
	}
	run.minShare = 100
	if run.stored > 0 {
		for _, n := range per {
			run.minShare = min(run.minShare, 100*float64(n)*float64(producers)/float64(run.stored))
		}
	}
	return run
}
