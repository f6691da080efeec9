package kinesistest_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// Start a server, create a stream, write through the real SDK client and
// read back what the stream holds.
func Example() {
	srv, err := kinesistest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("orders", 2); err != nil {
		log.Fatal(err)
	}

	client := srv.Client()
	out, err := client.PutRecords(context.Background(), &kinesis.PutRecordsInput{
		StreamName: aws.String("orders"),
		Records: []types.PutRecordsRequestEntry{
			{PartitionKey: aws.String("customer-1"), Data: []byte(`{"order":1}`)},
			{PartitionKey: aws.String("customer-4"), Data: []byte(`{"order":2}`)},
			{PartitionKey: aws.String("customer-1"), Data: []byte(`{"order":3}`)},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("failed:", aws.ToInt32(out.FailedRecordCount))

	recs, err := srv.Records("orders")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Println(r.ShardID, r.PartitionKey, string(r.Data))
	}
	// Output:
	// failed: 0
	// shardId-000000000000 customer-4 {"order":2}
	// shardId-000000000001 customer-1 {"order":1}
	// shardId-000000000001 customer-1 {"order":3}
}

// Inject failures, deterministically from a seed, to test a producer's
// retries. Here every record fails with InternalFailure.
func ExampleServer_SetFaults() {
	srv, err := kinesistest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("events", 1); err != nil {
		log.Fatal(err)
	}
	if err := srv.SetFaults(kinesistest.Faults{Seed: 1, RecordFailureRate: 1}); err != nil {
		log.Fatal(err)
	}
	out, err := srv.Client().PutRecords(context.Background(), &kinesis.PutRecordsInput{
		StreamName: aws.String("events"),
		Records:    []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("x")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(aws.ToInt32(out.FailedRecordCount), aws.ToString(out.Records[0].ErrorCode))
	fmt.Println("accepted:", srv.Stats().RecordsAccepted)
	// Output:
	// 1 InternalFailure
	// accepted: 0
}

// Throttle with AWS's shard limits on a clock the test controls: a shard
// takes 1000 records a second, and one more a millisecond later.
func ExampleWithShardLimits() {
	var clock atomic.Int64 // Unix nanoseconds; the server reads it concurrently
	clock.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	srv, err := kinesistest.NewServer(
		kinesistest.WithShardLimits(kinesistest.AWSShardLimits()),
		kinesistest.WithClock(func() time.Time { return time.Unix(0, clock.Load()) }),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("metrics", 1); err != nil {
		log.Fatal(err)
	}
	client := srv.Client()
	put := func(n int) int32 {
		recs := make([]types.PutRecordsRequestEntry, n)
		for i := range recs {
			recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte("x")}
		}
		out, err := client.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("metrics"), Records: recs})
		if err != nil {
			log.Fatal(err)
		}
		return aws.ToInt32(out.FailedRecordCount)
	}
	fmt.Println("throttled:", put(500), put(500), put(1))
	clock.Add(int64(time.Millisecond))
	fmt.Println("after 1 ms:", put(1))
	// Output:
	// throttled: 0 0 1
	// after 1 ms: 0
}
