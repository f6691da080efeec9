package kinesistest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// createOnDemand creates an ON_DEMAND stream (4 shards) through the API and
// returns its ARN.
func createOnDemand(t *testing.T, c *kinesis.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName:        aws.String(name),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand},
	})
	if err != nil {
		t.Fatalf("CreateStream ON_DEMAND: %v", err)
	}
	return StreamARN(name)
}

func setDistribution(t *testing.T, c *kinesis.Client, arn string, d types.RecordDistributionStrategy) {
	t.Helper()
	_, err := c.UpdateStreamRecordDistributionStrategy(context.Background(), &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN: aws.String(arn), RecordDistributionStrategy: d,
	})
	if err != nil {
		t.Fatalf("UpdateStreamRecordDistributionStrategy %s: %v", d, err)
	}
}

func TestRecordDistributionAuto(t *testing.T) {
	srv := Start(t)
	c, ctx := srv.Client(noRetries), context.Background()
	arn := createOnDemand(t, c, "auto")

	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.StreamDescriptionSummary.RecordDistributionStrategy; got != types.RecordDistributionStrategyUserPartitionKey {
		t.Errorf("new stream's RecordDistributionStrategy = %q, want USER_PARTITION_KEY", got)
	}
	// Before AUTO, a record needs a partition key.
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: []types.PutRecordsRequestEntry{{Data: []byte("x")}}})
	wantCode(t, err, "ValidationException")

	setDistribution(t, c, arn, types.RecordDistributionStrategyAuto)
	sum, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.StreamDescriptionSummary.RecordDistributionStrategy; got != types.RecordDistributionStrategyAuto {
		t.Errorf("RecordDistributionStrategy = %q, want AUTO", got)
	}

	// Under AUTO one key (and one explicit hash key) spreads over every
	// shard, and a record may have no key.
	var recs []types.PutRecordsRequestEntry
	for i := 0; i < 8; i++ {
		e := types.PutRecordsRequestEntry{Data: []byte("x"), PartitionKey: aws.String("same"), ExplicitHashKey: aws.String("0")}
		if i%2 == 1 {
			e.PartitionKey, e.ExplicitHashKey = nil, nil
		}
		recs = append(recs, e)
	}
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: recs})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords under AUTO: %v", err)
	}
	perShard := map[string]int{}
	for _, r := range out.Records {
		perShard[aws.ToString(r.ShardId)]++
	}
	if len(perShard) != 4 {
		t.Errorf("8 records of one key under AUTO landed on %d shards (%v), want all 4, evenly", len(perShard), perShard)
	}
	for id, n := range perShard {
		if n != 2 {
			t.Errorf("shard %s got %d of 8 records, want 2", id, n)
		}
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: aws.String(arn), Data: []byte("x")}); err != nil {
		t.Errorf("PutRecord without a key under AUTO: %v", err)
	}
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: aws.String(arn), Data: []byte("x"), PartitionKey: aws.String("k"),
		SequenceNumberForOrdering: aws.String(aws.ToString(out.Records[0].SequenceNumber))})
	wantCode(t, err, "InvalidArgumentException")
	// An empty key is still too short: optional means absent.
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: []types.PutRecordsRequestEntry{{Data: []byte("x"), PartitionKey: aws.String("")}}})
	wantCode(t, err, "ValidationException")

	setDistribution(t, c, arn, types.RecordDistributionStrategyUserPartitionKey)
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: []types.PutRecordsRequestEntry{{Data: []byte("x")}}})
	wantCode(t, err, "ValidationException")
	out, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: recs[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Records[0].ShardId); got != "shardId-000000000000" {
		t.Errorf("ExplicitHashKey 0 after the switch back went to %s, want shardId-000000000000", got)
	}
}

func TestRecordDistributionRules(t *testing.T) {
	srv := Start(t)
	c, ctx := srv.Client(noRetries), context.Background()
	if err := srv.CreateStream("provisioned", 2); err != nil {
		t.Fatal(err)
	}
	arn := StreamARN("") // + a name
	for _, tc := range []struct {
		name string
		in   *kinesis.UpdateStreamRecordDistributionStrategyInput
		code string
	}{
		{"a provisioned stream", &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: aws.String(arn + "provisioned"), RecordDistributionStrategy: types.RecordDistributionStrategyAuto}, "InvalidArgumentException"},
		{"a missing stream", &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: aws.String(arn + "missing"), RecordDistributionStrategy: types.RecordDistributionStrategyAuto}, "ResourceNotFoundException"},
		{"an unknown strategy", &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: aws.String(arn + "provisioned"), RecordDistributionStrategy: "RANDOM"}, "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.UpdateStreamRecordDistributionStrategy(ctx, tc.in)
			wantCode(t, err, tc.code)
		})
	}
}

// TestStreamARNEverywhere checks that every operation naming a stream takes
// the ARN alone, and the name with the ARN when they agree, and refuses
// them when they do not.
func TestStreamARNEverywhere(t *testing.T) {
	srv := Start(t)
	if err := srv.CreateStream("s", 2); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateStream("t", 1); err != nil {
		t.Fatal(err)
	}
	c, ctx := srv.Client(noRetries), context.Background()
	arnS := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	arnT := "arn:aws:kinesis:us-east-1:000000000000:stream/t"
	ops := map[string]func(name, arn *string) error{
		"PutRecords": func(name, arn *string) error {
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: name, StreamARN: arn, Records: entries(1, 4)})
			return err
		},
		"PutRecord": func(name, arn *string) error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: name, StreamARN: arn, PartitionKey: aws.String("k"), Data: []byte("x")})
			return err
		},
		"ListShards": func(name, arn *string) error {
			_, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: name, StreamARN: arn})
			return err
		},
		"DescribeStreamSummary": func(name, arn *string) error {
			_, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: name, StreamARN: arn})
			return err
		},
		"DescribeStream": func(name, arn *string) error {
			_, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: name, StreamARN: arn})
			return err
		},
		"GetShardIterator": func(name, arn *string) error {
			_, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: name, StreamARN: arn,
				ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			return err
		},
	}
	for op, call := range ops {
		t.Run(op, func(t *testing.T) {
			if err := call(nil, &arnS); err != nil {
				t.Errorf("by ARN alone: %v", err)
			}
			if err := call(aws.String("s"), &arnS); err != nil {
				t.Errorf("by name and ARN: %v", err)
			}
			wantCode(t, call(aws.String("s"), &arnT), "InvalidArgumentException")
			wantCode(t, call(nil, aws.String("arn:aws:kinesis:eu-west-1:000000000000:stream/s")), "ResourceNotFoundException")
			wantCode(t, call(nil, aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/s")), "ResourceNotFoundException")
		})
	}
}
