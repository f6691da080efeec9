package bench

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
)

// cannedClient is a PutRecordsAPI that answers every call at once with a
// preallocated output of one entry per record: every entry written, or
// every entry failed with errorCode. It allocates nothing per call, so a
// benchmark against it measures the stream alone. It counts the records
// it was sent.
type cannedClient struct {
	outs    []*kinesis.PutRecordsOutput // outs[n] answers a call of n records
	records atomic.Int64
	calls   atomic.Int64
}

var _ inskinesis.PutRecordsAPI = (*cannedClient)(nil)

// newOKClient answers success for every entry.
func newOKClient() *cannedClient { return newCannedClient("") }

// newThrottlingClient fails every entry with
// ProvisionedThroughputExceededException, as a shard over its limits does.
func newThrottlingClient() *cannedClient {
	return newCannedClient("ProvisionedThroughputExceededException")
}

func newCannedClient(errorCode string) *cannedClient {
	const n = inskinesis.MaxRecordsPerRequest
	entries := make([]types.PutRecordsResultEntry, n)
	for i := range entries {
		if errorCode != "" {
			entries[i] = types.PutRecordsResultEntry{
				ErrorCode:    aws.String(errorCode),
				ErrorMessage: aws.String("Rate exceeded for shard shardId-000000000000 in stream bench under account 123456789012."),
			}
		} else {
			entries[i] = types.PutRecordsResultEntry{
				ShardId:        aws.String("shardId-000000000000"),
				SequenceNumber: aws.String("49590338271490256608559692538361571095921575989136588898"),
			}
		}
	}
	c := &cannedClient{outs: make([]*kinesis.PutRecordsOutput, n+1)}
	for i := range c.outs {
		failed := int32(0)
		if errorCode != "" {
			failed = int32(i)
		}
		c.outs[i] = &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(failed), Records: entries[:i]}
	}
	return c
}

func (c *cannedClient) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	c.calls.Add(1)
	c.records.Add(int64(len(in.Records)))
	return c.outs[len(in.Records)], nil
}
