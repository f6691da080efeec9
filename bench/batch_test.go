package bench

import (
	"math/rand/v2"
	"testing"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/internal/batch"
)

// apiLimits are the largest requests Kinesis takes; defaultLimits are the
// stream's default MaxStreamBatchSize and MaxStreamBatchByteSize.
var (
	apiLimits     = batch.Limits{MaxRecords: inskinesis.MaxRecordsPerRequest, MaxBytes: inskinesis.MaxRequestBytes}
	defaultLimits = batch.Limits{MaxRecords: inskinesis.DefaultMaxStreamBatchSize, MaxBytes: inskinesis.DefaultMaxStreamBatchByteSize}
)

// sizeCase is a sequence of encoded record sizes (data plus key bytes).
type sizeCase struct {
	name  string
	sizes []int
}

func sizeCases() []sizeCase {
	return []sizeCase{
		{"100B", fill(4096, func(int) int { return 100 })},
		{"1KiB", fill(4096, func(int) int { return 1 << 10 })},
		{"mixed", mixedSizes(4096)},
	}
}

func fill(n int, f func(i int) int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = f(i)
	}
	return s
}

// mixedSizes draws n sizes log-uniformly from 1 byte to the 1 MiB record
// limit, from a fixed seed: most records small, a few near the limit.
func mixedSizes(n int) []int {
	rng := rand.New(rand.NewPCG(1, 2))
	return fill(n, func(int) int {
		s := 1 << rng.IntN(21)           // 1 B .. 1 MiB
		return min(s+rng.IntN(s), 1<<20) // spread within the octave
	})
}

// BenchmarkSplit measures batch.Split cutting encoded sizes into requests.
// One op is one record.
func BenchmarkSplit(b *testing.B) {
	for _, lc := range []struct {
		name string
		lim  batch.Limits
	}{{"lim=api", apiLimits}, {"lim=default", defaultLimits}} {
		for _, sc := range sizeCases() {
			b.Run(lc.name+"/size="+sc.name, func(b *testing.B) {
				var requests, records int
				emit := func(req []int) { requests++; records += len(req) }
				size := func(s int) int { return s }
				b.ReportAllocs()
				b.ResetTimer()
				m := startMeter()
				for done := 0; done < b.N; {
					n := min(len(sc.sizes), b.N-done)
					batch.Split(sc.sizes[:n], size, lc.lim, emit)
					done += n
				}
				b.StopTimer()
				m.report(b, b.N)
				if records != b.N {
					b.Fatalf("Split emitted %d records of %d", records, b.N)
				}
				b.ReportMetric(float64(b.N)/float64(requests), "records/req")
			})
		}
	}
}

// queued is a record as the stream's loop queues it: only its size matters
// to the cut.
type queued struct {
	size     int
	attempts int
}

// BenchmarkCut measures the stream loop's use of package batch: records are
// pushed on a batch.Queue as Put hands them in, and requests are cut from
// its front with a batch.Acc, one record at a time. One op is one record.
func BenchmarkCut(b *testing.B) {
	for _, lc := range []struct {
		name string
		lim  batch.Limits
	}{{"lim=api", apiLimits}, {"lim=default", defaultLimits}} {
		for _, sc := range sizeCases() {
			b.Run(lc.name+"/size="+sc.name, func(b *testing.B) {
				recs := make([]queued, len(sc.sizes))
				for i, s := range sc.sizes {
					recs[i].size = s
				}
				var q batch.Queue[*queued]
				req := make([]*queued, 0, lc.lim.MaxRecords)
				var requests, records int
				// Warm the queue to its working size, as a running stream's is.
				for i := range recs {
					q.PushBack(&recs[i])
				}
				for q.Len() > 0 {
					q.PopFront()
				}
				b.ReportAllocs()
				b.ResetTimer()
				m := startMeter()
				for done := 0; done < b.N; {
					n := min(len(recs), b.N-done)
					for i := range n {
						q.PushBack(&recs[i])
					}
					for q.Len() > 0 {
						acc := batch.NewAcc(lc.lim)
						for q.Len() > 0 {
							r := q.Front()
							if !acc.Add(r.size) {
								break
							}
							q.PopFront()
							r.attempts++
							req = append(req, r)
						}
						requests++
						records += len(req)
						clear(req)
						req = req[:0]
					}
					done += n
				}
				b.StopTimer()
				m.report(b, b.N)
				if records != b.N {
					b.Fatalf("cut %d records of %d", records, b.N)
				}
				b.ReportMetric(float64(b.N)/float64(requests), "records/req")
			})
		}
	}
}
