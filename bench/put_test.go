package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/codec/json"
	"github.com/go-pkg/inskinesis/codec/msgpack"
	"github.com/go-pkg/inskinesis/codec/proto"
	"github.com/go-pkg/inskinesis/internal/testpb"
	"github.com/go-pkg/inskinesis/partition"
)

// event is a typical small record, the same for the JSON and MessagePack
// codecs as testpb.Event is for protocol buffers.
type event struct {
	ID         string            `json:"id" msgpack:"id"`
	User       string            `json:"user" msgpack:"user"`
	AtUnixNano int64             `json:"at" msgpack:"at"`
	Payload    []byte            `json:"payload" msgpack:"payload"`
	Tags       []string          `json:"tags" msgpack:"tags"`
	Attrs      map[string]string `json:"attrs,omitempty" msgpack:"attrs,omitempty"`
}

func newEvent() event {
	return event{
		ID:         "0f8fad5b-d9cb-469f-a165-70867728950e",
		User:       "user-4711",
		AtUnixNano: 1767225600123456789,
		Payload:    []byte("0123456789abcdef0123456789abcdef"),
		Tags:       []string{"checkout", "eu-west-1"},
	}
}

func newProtoEvent() *testpb.Event {
	e := newEvent()
	return &testpb.Event{Id: e.ID, User: e.User, AtUnixNano: e.AtUnixNano, Payload: e.Payload, Tags: e.Tags}
}

// payload100 is the floor's record: 100 bytes already encoded.
var payload100 = []byte("0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789")

// throughputConfig is a stream tuned for throughput against a client that
// answers at once: full requests, a few in flight, room for them all.
func throughputConfig[T any](client inskinesis.PutRecordsAPI, c inskinesis.Codec[T], p inskinesis.Partitioner[T]) inskinesis.Config[T] {
	return inskinesis.Config[T]{
		StreamName:             "bench",
		Client:                 client,
		Codec:                  c,
		Partitioner:            p,
		MaxStreamBatchSize:     inskinesis.MaxRecordsPerRequest,
		MaxStreamBatchByteSize: 5 << 20,
		MaxBatchSize:           8 * inskinesis.MaxRecordsPerRequest,
		MaxGroup:               4,
	}
}

// BenchmarkPut measures the whole Put path, encoding to the client's answer
// and the record's return to the pool, against a client that answers at
// once, with a static partition key. One op is one record; the timed part
// ends when Flush has seen every record delivered.
//
// codec=bytes is the floor: 100 bytes already encoded, copied as they are.
// config=default is the floor with the stream's default Config (requests of
// 100 records, one in flight, 500 records buffered); key=uuid is the floor
// with the default partitioner, a random UUID per record.
func BenchmarkPut(b *testing.B) {
	b.Run("codec=bytes", func(b *testing.B) {
		benchPut(b, throughputConfig[[]byte](newOKClient(), codec.Bytes{}, partition.Static[[]byte]("key")), payload100)
	})
	b.Run("codec=bytes/config=default", func(b *testing.B) {
		benchPut(b, inskinesis.Config[[]byte]{StreamName: "bench", Client: newOKClient(), Codec: codec.Bytes{}, Partitioner: partition.Static[[]byte]("key")}, payload100)
	})
	b.Run("codec=bytes/key=uuid", func(b *testing.B) {
		benchPut(b, throughputConfig[[]byte](newOKClient(), codec.Bytes{}, partition.UUID[[]byte]()), payload100)
	})
	b.Run("codec=json", func(b *testing.B) {
		benchPut(b, throughputConfig[event](newOKClient(), json.Codec[event]{}, partition.Static[event]("key")), newEvent())
	})
	b.Run("codec=msgpack", func(b *testing.B) {
		benchPut(b, throughputConfig[event](newOKClient(), msgpack.Codec[event]{}, partition.Static[event]("key")), newEvent())
	})
	b.Run("codec=proto", func(b *testing.B) {
		benchPut(b, throughputConfig[*testpb.Event](newOKClient(), proto.Codec[*testpb.Event]{}, partition.Static[*testpb.Event]("key")), newProtoEvent())
	})
}

// BenchmarkPutParallel is BenchmarkPut with Puts from 4 goroutines per
// GOMAXPROCS (b.RunParallel), contending for the stream's buffer.
func BenchmarkPutParallel(b *testing.B) {
	b.Run("codec=bytes", func(b *testing.B) {
		benchPutParallel(b, throughputConfig[[]byte](newOKClient(), codec.Bytes{}, partition.Static[[]byte]("key")), payload100)
	})
	b.Run("codec=json", func(b *testing.B) {
		benchPutParallel(b, throughputConfig[event](newOKClient(), json.Codec[event]{}, partition.Static[event]("key")), newEvent())
	})
	b.Run("codec=msgpack", func(b *testing.B) {
		benchPutParallel(b, throughputConfig[event](newOKClient(), msgpack.Codec[event]{}, partition.Static[event]("key")), newEvent())
	})
	b.Run("codec=proto", func(b *testing.B) {
		benchPutParallel(b, throughputConfig[*testpb.Event](newOKClient(), proto.Codec[*testpb.Event]{}, partition.Static[*testpb.Event]("key")), newProtoEvent())
	})
}

func benchPut[T any](b *testing.B, cfg inskinesis.Config[T], v T) {
	s := startStream(b, cfg, v)
	b.ResetTimer()
	m := startMeter()
	for range b.N {
		if err := s.Put(v); err != nil {
			b.Fatal(err)
		}
	}
	finishStream(b, s, cfg, m)
}

func benchPutParallel[T any](b *testing.B, cfg inskinesis.Config[T], v T) {
	s := startStream(b, cfg, v)
	b.SetParallelism(4)
	b.ResetTimer()
	m := startMeter()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Put(v); err != nil {
				b.Error(err)
				return
			}
		}
	})
	finishStream(b, s, cfg, m)
}

// startStream starts a stream for cfg and sets the bytes per op to v's
// encoded size plus its key.
func startStream[T any](b *testing.B, cfg inskinesis.Config[T], v T) *inskinesis.Stream[T] {
	b.Helper()
	data, err := cfg.Codec.Encode(nil, v)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data) + len(cfg.Partitioner(v))))
	b.ReportAllocs()
	s, err := inskinesis.NewKinesis(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// finishStream flushes s within the timed part, reports the metrics and
// checks that the client was sent every record.
func finishStream[T any](b *testing.B, s *inskinesis.Stream[T], cfg inskinesis.Config[T], m meter) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	m.report(b, b.N)
	st := s.Stats()
	if st.Delivered != int64(b.N) || st.Failed != 0 {
		b.Fatalf("delivered %d and failed %d of %d records", st.Delivered, st.Failed, b.N)
	}
	if c, ok := cfg.Client.(*cannedClient); ok {
		if got := c.records.Load(); got != int64(b.N) {
			b.Fatalf("the client was sent %d records of %d", got, b.N)
		}
		b.ReportMetric(float64(b.N)/float64(max(c.calls.Load(), 1)), "records/req")
	}
}

// Formats the names of sub-benchmarks that vary a count.
func named(key string, n int) string { return fmt.Sprintf("%s=%d", key, n) }
