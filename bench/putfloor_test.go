package bench

import (
	"context"
	"sync"
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

// BenchmarkPutFloorShared is BenchmarkPutFloor with the least that a Put
// safe for concurrent callers must add to it, to show how far any such
// producer can come to the floor: lock=mutex takes an uncontended
// sync.Mutex around each record's copy, as one Put that shares a buffer
// does; handoff=chan sends each payload through a buffered channel to a
// goroutine that runs the floor's loop, as a producer that sends on
// another goroutine does. One op is one record.
func BenchmarkPutFloorShared(b *testing.B) {
	const n = inskinesis.MaxRecordsPerRequest
	key := "key"
	newFloor := func(b *testing.B, c *cannedClient) (add func([]byte), finish func()) {
		in := &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: make([]types.PutRecordsRequestEntry, 0, n)}
		slab := make([]byte, 0, n*len(payload100))
		send := func() {
			if _, err := c.PutRecords(context.Background(), in); err != nil {
				b.Error(err)
			}
			in.Records, slab = in.Records[:0], slab[:0]
		}
		add = func(p []byte) {
			start := len(slab)
			slab = append(slab, p...)
			in.Records = append(in.Records, types.PutRecordsRequestEntry{Data: slab[start:len(slab):len(slab)], PartitionKey: &key})
			if len(in.Records) == n {
				send()
			}
		}
		finish = func() {
			if len(in.Records) > 0 {
				send()
			}
		}
		return add, finish
	}
	check := func(b *testing.B, c *cannedClient) {
		if got := c.records.Load(); got != int64(b.N) {
			b.Fatalf("the client was sent %d records of %d", got, b.N)
		}
	}
	b.Run("lock=mutex", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload100) + len(key)))
		c := newOKClient()
		add, finish := newFloor(b, c)
		var mu sync.Mutex
		b.ResetTimer()
		for range b.N {
			mu.Lock()
			add(payload100)
			mu.Unlock()
		}
		finish()
		b.StopTimer()
		check(b, c)
	})
	b.Run("handoff=chan", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload100) + len(key)))
		c := newOKClient()
		add, finish := newFloor(b, c)
		ch := make(chan []byte, n)
		done := make(chan struct{})
		b.ResetTimer()
		go func() {
			defer close(done)
			for p := range ch {
				add(p)
			}
			finish()
		}()
		for range b.N {
			ch <- payload100
		}
		close(ch)
		<-done
		b.StopTimer()
		check(b, c)
	})
}
