package bench

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
)

// BenchmarkPutFloor is what BenchmarkPut/codec=bytes is measured against:
// a loop that does the least any producer must, copying each 100-byte
// payload once into a 500-entry PutRecordsInput with a static key and
// sending every full input to the same client that answers at once. One op
// is one record.
func BenchmarkPutFloor(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(payload100) + len("key")))
	c := newOKClient()
	const n = inskinesis.MaxRecordsPerRequest
	key := "key"
	in := &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: make([]types.PutRecordsRequestEntry, 0, n)}
	slab := make([]byte, 0, n*len(payload100))
	send := func() {
		if _, err := c.PutRecords(context.Background(), in); err != nil {
			b.Fatal(err)
		}
		in.Records, slab = in.Records[:0], slab[:0]
	}
	b.ResetTimer()
	for range b.N {
		start := len(slab)
		slab = append(slab, payload100...)
		in.Records = append(in.Records, types.PutRecordsRequestEntry{Data: slab[start:len(slab):len(slab)], PartitionKey: &key})
		if len(in.Records) == n {
			send()
		}
	}
	if len(in.Records) > 0 {
		send()
	}
	b.StopTimer()
	if got := c.records.Load(); got != int64(b.N) {
		b.Fatalf("the client was sent %d records of %d", got, b.N)
	}
}
