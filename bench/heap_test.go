package bench

import (
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/partition"
)

// heapSampler records the highest heap in use (runtime.MemStats.HeapInuse:
// heap objects plus the unused part of their spans) seen by polling
// runtime/metrics, which does not stop the world.
type heapSampler struct {
	samples []metrics.Sample
	peak    atomic.Uint64
	stop    chan struct{}
	done    chan struct{}
}

func heapInuse(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

func newHeapSamples() []metrics.Sample {
	return []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
}

func startHeapSampler(every time.Duration) *heapSampler {
	h := &heapSampler{samples: newHeapSamples(), stop: make(chan struct{}), done: make(chan struct{})}
	h.peak.Store(heapInuse(h.samples))
	go func() {
		defer close(h.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				h.sample()
				return
			case <-t.C:
				h.sample()
			}
		}
	}()
	return h
}

func (h *heapSampler) sample() {
	if v := heapInuse(h.samples); v > h.peak.Load() {
		h.peak.Store(v)
	}
}

// Stop ends the sampling and returns the peak.
func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	<-h.done
	return h.peak.Load()
}

// BenchmarkThrottledHeap puts records of 4 KiB from 64 goroutines with
// PutContext and a 1 ms timeout into a stream whose client fails every
// record with ProvisionedThroughputExceededException for the whole run, so
// that the stream's buffer stays full: records are retried 3 times 1 to
// 8 ms apart and then reported on Error (which is read), and most Puts wait
// for space until their context ends. One op is one run of puts Puts, from
// a fresh stream to its Close.
//
// It reports peak-heap-B, the highest heap in use seen during the runs above
// the heap in use before them, against bound-B, MaxBatchSize times the
// record's size (data plus key), which is what the stream may hold; and
// admitted/put, the share of Puts the stream took. The peak must not grow
// with puts.
func BenchmarkThrottledHeap(b *testing.B) {
	for _, puts := range []int{20_000, 200_000} {
		b.Run(named("puts", puts), func(b *testing.B) { benchThrottledHeap(b, puts) })
	}
}

func benchThrottledHeap(b *testing.B, puts int) {
	const (
		goroutines   = 64
		recordSize   = 4 << 10
		maxBatchSize = 2000
		timeout      = time.Millisecond
	)
	data := make([]byte, recordSize-len("key"))
	cfg := inskinesis.Config[[]byte]{
		StreamName:         "bench",
		Codec:              codec.Bytes{},
		Partitioner:        partition.Static[[]byte]("key"),
		MaxStreamBatchSize: inskinesis.MaxRecordsPerRequest,
		MaxBatchSize:       maxBatchSize,
		MaxGroup:           4,
		RetryCount:         3,
		RetryInterval:      time.Millisecond,
		MaxRetryInterval:   4 * time.Millisecond,
	}
	b.ReportAllocs()
	runtime.GC()
	base := heapInuse(newHeapSamples())
	h := startHeapSampler(500 * time.Microsecond)
	var admitted, timedOut atomic.Int64
	b.ResetTimer()
	m := startMeter()
	for range b.N {
		client := newThrottlingClient()
		cfg.Client = client
		s, err := inskinesis.NewKinesis(cfg)
		if err != nil {
			b.Fatal(err)
		}
		var reported atomic.Int64
		readerDone := make(chan struct{})
		go func() { // an application reads its errors
			defer close(readerDone)
			for {
				select {
				case err := <-s.Error():
					var pe *inskinesis.PutError[[]byte]
					if !errors.As(err, &pe) || !errors.Is(err, inskinesis.ErrRetriesExhausted) {
						b.Errorf("unexpected error: %v", err)
						return
					}
					reported.Add(int64(len(pe.Records)))
				case <-s.Done():
					return
				}
			}
		}()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(puts) {
					ctx, cancel := context.WithTimeout(context.Background(), timeout)
					err := s.PutContext(ctx, data)
					cancel()
					switch {
					case err == nil:
						admitted.Add(1)
					case errors.Is(err, context.DeadlineExceeded):
						timedOut.Add(1)
					default:
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.Close(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		<-readerDone
		st := s.Stats()
		if st.Delivered != 0 || st.Failed != st.Throttled/4 || st.BufferedRecords != 0 {
			b.Fatalf("stats after Close: %+v", st)
		}
		if got := reported.Load() + st.ErrorsDropped; got > st.Failed {
			b.Fatalf("reported %d records, more than the %d failed", got, st.Failed)
		}
	}
	b.StopTimer()
	peak := h.Stop()
	m.report(b, b.N*puts)
	if admitted.Load() == 0 || timedOut.Load() == 0 {
		b.Fatalf("admitted %d and timed out %d Puts: the buffer never filled or never drained", admitted.Load(), timedOut.Load())
	}
	b.ReportMetric(float64(peak)-float64(base), "peak-heap-B")
	b.ReportMetric(float64(maxBatchSize*recordSize), "bound-B")
	b.ReportMetric(float64(admitted.Load())/float64(b.N*puts), "admitted/put")
}
