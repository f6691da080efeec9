package bench

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/partition"
)

// stuckClient is a Kinesis client whose PutRecords calls wait until their
// context ends, so that every record put stays in the stream. ListShards
// answers one shard, for aggregation.
type stuckClient struct{}

func (stuckClient) PutRecords(ctx context.Context, _ *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (stuckClient) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return &kinesis.ListShardsOutput{Shards: []types.Shard{{
		ShardId:             aws.String("shardId-000000000000"),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("340282366920938463463374607431768211455")},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
	}}}, nil
}

// liveHeap returns the bytes of heap objects alive after full collections.
// It collects twice: the first only moves sync.Pool contents to a victim
// cache, which the second frees.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkBufferedHeap measures the heap a stream takes per record it
// holds: it puts 50,000 records of 100 bytes of data with a UUID partition
// key (136 bytes as MaxBufferedBytes counts them) into a stream whose calls
// never return, and compares the live heap after full collections before
// and after. heap-B/rec is that growth per record; counted-B/rec is what
// MaxBufferedBytes counts per record (Stats().BufferedBytes); their
// difference is the per-record overhead the byte bound does not see. With
// aggregation, a record is also copied into its aggregate. One op is one
// stream, filled and aborted.
func BenchmarkBufferedHeap(b *testing.B) {
	for _, agg := range []bool{false, true} {
		name := "plain"
		if agg {
			name = "aggregated"
		}
		b.Run(name, func(b *testing.B) { benchBufferedHeap(b, agg) })
	}
}

func benchBufferedHeap(b *testing.B, agg bool) {
	const n = 50_000
	data := make([]byte, 100)
	cfg := inskinesis.Config[[]byte]{
		StreamName:       "bench",
		Client:           stuckClient{},
		Codec:            codec.Bytes{},
		Partitioner:      partition.UUID[[]byte](),
		MaxBatchSize:     n,
		MaxBufferedBytes: 1 << 30,
		AggregateRecords: agg,
	}
	var grown, counted float64
	for range b.N {
		s, err := inskinesis.NewKinesis(cfg)
		if err != nil {
			b.Fatal(err)
		}
		before := liveHeap()
		for range n {
			if err := s.Put(data); err != nil {
				b.Fatal(err)
			}
		}
		after := liveHeap()
		st := s.Stats()
		if st.BufferedRecords != n {
			b.Fatalf("%d records held, want %d", st.BufferedRecords, n)
		}
		grown += float64(after) - float64(before)
		counted += float64(st.BufferedBytes)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Close(ctx); !errors.Is(err, inskinesis.ErrAborted) {
			b.Fatalf("Close: %v", err)
		}
		runtime.KeepAlive(s)
	}
	b.ReportMetric(grown/float64(b.N*n), "heap-B/rec")
	b.ReportMetric(counted/float64(b.N*n), "counted-B/rec")
}

// BenchmarkCancelledFlush measures what a Flush whose context has ended
// leaves behind while a record is stuck in a call: heap-B/op is the growth
// of the live heap per such Flush (0 when it leaves nothing), and ns/op
// includes settling the record after all of them.
func BenchmarkCancelledFlush(b *testing.B) {
	s, err := inskinesis.NewKinesis(inskinesis.Config[[]byte]{StreamName: "bench", Client: stuckClient{}, Codec: codec.Bytes{}})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Put([]byte("stuck")); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := liveHeap()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.Flush(ctx); !errors.Is(err, context.Canceled) {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((float64(liveHeap())-float64(before))/float64(b.N), "heap-B/op")
	_ = s.Close(ctx)
}

// BenchmarkTryPutRefused measures a TryPut of a 1 MiB record refused by a
// full stream: B/op is what each refusal allocates.
func BenchmarkTryPutRefused(b *testing.B) {
	s, err := inskinesis.NewKinesis(inskinesis.Config[[]byte]{StreamName: "bench", Client: stuckClient{}, Codec: codec.Bytes{}, MaxBatchSize: 1})
	if err != nil {
		b.Fatal(err)
	}
	big := make([]byte, 1<<20-64)
	if err := s.Put(big); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.TryPut(big); !errors.Is(err, inskinesis.ErrBufferFull) {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Close(ctx)
}
