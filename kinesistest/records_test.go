package kinesistest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// TestKinesisRecordsMatchGetRecords: KinesisRecords gives each stored
// record as GetRecords returns it, and feeds aggregation.Decode directly.
func TestKinesisRecordsMatchGetRecords(t *testing.T) {
	srv := kinesistest.Start(t)
	if err := srv.CreateStream("s", 1); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	ctx := context.Background()
	if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), Data: []byte("one")},
		{PartitionKey: aws.String("b"), Data: []byte{}},
	}}); err != nil {
		t.Fatal(err)
	}
	got, err := srv.KinesisRecords("s")
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(out.Records) != 2 {
		t.Fatalf("KinesisRecords gave %d records, GetRecords %d; want 2", len(got), len(out.Records))
	}
	for i, want := range out.Records {
		g := got[i]
		if string(g.Data) != string(want.Data) || aws.ToString(g.PartitionKey) != aws.ToString(want.PartitionKey) ||
			aws.ToString(g.SequenceNumber) != aws.ToString(want.SequenceNumber) || g.EncryptionType != want.EncryptionType && want.EncryptionType != "" ||
			!aws.ToTime(g.ApproximateArrivalTimestamp).Equal(aws.ToTime(want.ApproximateArrivalTimestamp).Truncate(time.Millisecond)) {
			t.Errorf("record %d: KinesisRecords gave %+v, GetRecords %+v", i, g, want)
		}
	}
	values, err := aggregation.Decode[[]byte](codec.Bytes{}, got)
	if err != nil || len(values) != 2 || string(values[0]) != "one" || len(values[1]) != 0 {
		t.Fatalf("aggregation.Decode = %q, %v", values, err)
	}
	if _, err := srv.KinesisRecords("nope"); !errors.Is(err, kinesistest.ErrStreamNotFound) {
		t.Errorf("KinesisRecords of a missing stream: %v, want ErrStreamNotFound", err)
	}
}
