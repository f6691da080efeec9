package inskinesis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sort"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec/msgpack"
	"github.com/go-pkg/inskinesis/kinesistest"
	"github.com/go-pkg/inskinesis/partition"
)

// Order is a typed record.
type Order struct {
	ID     string  `json:"id" msgpack:"id"`
	UserID string  `json:"user_id" msgpack:"user_id"`
	Amount float64 `json:"amount" msgpack:"amount"`
}

// newServer starts an in-process Kinesis server with one stream, in place
// of AWS, so that the examples run anywhere.
func newServer(stream string, shards int) *kinesistest.Server {
	srv, err := kinesistest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.CreateStream(stream, shards); err != nil {
		log.Fatal(err)
	}
	return srv
}

// Stream typed records with the defaults: JSON encoding and a random
// partition key per record.
func Example() {
	srv := newServer("orders", 2)
	defer srv.Close()

	stream, err := inskinesis.NewKinesis(inskinesis.Config[Order]{
		StreamName: "orders",
		Client:     srv.Client(), // leave out, and set Region, to use AWS
	})
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := stream.Put(Order{ID: fmt.Sprint(i), UserID: "u1", Amount: 9.5}); err != nil {
			log.Fatal(err)
		}
	}
	stream.FlushAndStopStreaming()

	records, _ := srv.Records("orders")
	var data []string
	for _, r := range records {
		data = append(data, string(r.Data))
	}
	sort.Strings(data)
	for _, d := range data {
		fmt.Println(d)
	}
	// Output:
	// {"id":"0","user_id":"u1","amount":9.5}
	// {"id":"1","user_id":"u1","amount":9.5}
	// {"id":"2","user_id":"u1","amount":9.5}
}

// Choose a codec and a typed partitioner: records of one user share a key,
// so they land on one shard, in order.
func ExampleConfig_codecAndPartitioner() {
	srv := newServer("orders", 4)
	defer srv.Close()

	stream, err := inskinesis.NewKinesis(inskinesis.Config[Order]{
		StreamName:  "orders",
		Client:      srv.Client(),
		Codec:       msgpack.Codec[Order]{},
		Partitioner: func(o Order) string { return o.UserID },
	})
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		_ = stream.Put(Order{ID: fmt.Sprint(i), UserID: "user-42"})
	}
	stream.FlushAndStopStreaming()

	records, _ := srv.Records("orders")
	shards := map[string]bool{}
	for _, r := range records {
		shards[r.ShardID] = true
		var o Order
		o, _ = msgpack.Codec[Order]{}.Decode(r.Data)
		fmt.Println(r.PartitionKey, o.ID)
	}
	fmt.Println("shards used:", len(shards))
	// Output:
	// user-42 0
	// user-42 1
	// user-42 2
	// user-42 3
	// shards used: 1
}

// Read the Error channel until the stream stops. The channel is never
// closed, so select on Done too.
func ExampleStream_Error() {
	srv := newServer("orders", 1)
	defer srv.Close()

	stream, err := inskinesis.NewKinesis(inskinesis.Config[Order]{
		StreamName:  "no-such-stream",
		Client:      srv.Client(),
		Partitioner: partition.Static[Order]("k"),
	})
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case err := <-stream.Error():
				var pe *inskinesis.PutError[Order]
				if errors.As(err, &pe) {
					fmt.Printf("%d records not delivered: %s\n", len(pe.Records), pe.Code)
				}
			case <-stream.Done():
				return
			}
		}
	}()
	_ = stream.Put(Order{ID: "1"})
	_ = stream.Put(Order{ID: "2"})
	stream.FlushAndStopStreaming()
	<-done
	// Output:
	// 2 records not delivered: ResourceNotFoundException
}

// Learn each record's fate, in a callback or by waiting.
func ExampleStream_PutSync() {
	srv := newServer("orders", 1)
	defer srv.Close()

	stream, err := inskinesis.NewKinesis(inskinesis.Config[Order]{StreamName: "orders", Client: srv.Client()})
	if err != nil {
		log.Fatal(err)
	}
	defer stream.FlushAndStopStreaming()

	for _, r := range stream.PutSync(context.Background(), Order{ID: "a"}, Order{ID: "b"}) {
		fmt.Println(r.Record.ID, r.Err == nil, r.ShardID, r.Attempts)
	}
	// Output:
	// a true shardId-000000000000 1
	// b true shardId-000000000000 1
}

// Bad input fails its own Put with a typed error, before anything is sent.
func ExampleStream_Put_errors() {
	srv := newServer("orders", 1)
	defer srv.Close()

	stream, err := inskinesis.NewKinesis(inskinesis.Config[Order]{
		StreamName:    "orders",
		Client:        srv.Client(),
		Partitioner:   func(o Order) string { return o.UserID },
		MaxRecordSize: 64,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer stream.FlushAndStopStreaming()

	err = stream.Put(Order{ID: "1"}) // no user: an empty partition key
	fmt.Println(errors.Is(err, inskinesis.ErrInvalidPartitionKey))
	err = stream.Put(Order{ID: "a very long identifier that makes the record too large", UserID: "u"})
	fmt.Println(errors.Is(err, inskinesis.ErrRecordTooLarge))
	// Output:
	// true
	// true
}
