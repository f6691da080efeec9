package bench

import (
	"context"
	"testing"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/partition"
)

// BenchmarkPutSync measures PutSync of 10 records of 100 bytes, one call at
// a time, against a client that answers at once: one op is one PutSync,
// from its first record put to its last outcome.
func BenchmarkPutSync(b *testing.B) {
	s, err := inskinesis.NewKinesis(inskinesis.Config[[]byte]{
		StreamName:  "bench",
		Client:      newOKClient(),
		Codec:       codec.Bytes{},
		Partitioner: partition.Static[[]byte]("key"),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.FlushAndStopStreaming()
	data := make([]byte, 100)
	records := make([][]byte, 10)
	for i := range records {
		records[i] = data
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, r := range s.PutSync(ctx, records...) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
}
