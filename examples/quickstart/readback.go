package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
)

// readResult counts what the read-back found.
type readResult struct {
	seen      []int32 // arrivals per Seq of this run
	records   int     // records of this run
	others    int     // records of other runs, ignored
	undecoded int     // records that are not orders
	shards    int
}

// readBack reads every shard of the stream, open and closed, from shortly
// before since, with GetRecords, and counts the orders of run by Seq.
func readBack(ctx context.Context, client *kinesis.Client, stream string, since time.Time, codec inskinesis.Codec[Order], run string, n int) (*readResult, error) {
	shards, err := allShards(ctx, client, stream)
	if err != nil {
		return nil, err
	}
	rr := &readResult{seen: make([]int32, n), shards: len(shards)}
	// A few seconds early, for clock skew between this machine and the
	// server; the run id sorts out older records.
	from := since.Add(-5 * time.Second)
	for _, sh := range shards {
		if err := rr.readShard(ctx, client, stream, aws.ToString(sh.ShardId), from, codec, run); err != nil {
			return nil, err
		}
	}
	return rr, nil
}

func allShards(ctx context.Context, client *kinesis.Client, stream string) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := client.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards: %w", err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards, nil
		}
		// NextToken may not come with StreamName.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func (rr *readResult) readShard(ctx context.Context, client *kinesis.Client, stream, shardID string, from time.Time, codec inskinesis.Codec[Order], run string) error {
	it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName:        aws.String(stream),
		ShardId:           aws.String(shardID),
		ShardIteratorType: types.ShardIteratorTypeAtTimestamp,
		Timestamp:         aws.Time(from),
	})
	if err != nil {
		return fmt.Errorf("shard iterator for %s: %w", shardID, err)
	}
	iter := it.ShardIterator
	for iter != nil {
		out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		var throttled *types.ProvisionedThroughputExceededException
		if errors.As(err, &throttled) {
			// AWS allows 5 GetRecords calls a second per shard.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("get records from %s: %w", shardID, err)
		}
		for _, r := range out.Records {
			o, err := codec.Decode(r.Data)
			switch {
			case err != nil:
				rr.undecoded++
			case o.Run != run:
				rr.others++
			case o.Seq < 0 || o.Seq >= int64(len(rr.seen)):
				rr.undecoded++
			default:
				rr.records++
				rr.seen[o.Seq]++
			}
		}
		// Caught up: nothing returned and nothing behind. A closed shard
		// ends with no next iterator.
		if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			break
		}
		iter = out.NextShardIterator
	}
	return nil
}

// report prints the verdict and returns an error unless each of the n
// records arrived exactly once.
func (rr *readResult) report(out *syncWriter, n int) error {
	missing, dups := 0, 0
	firstMissing := -1
	for i, c := range rr.seen {
		switch {
		case c == 0:
			missing++
			if firstMissing < 0 {
				firstMissing = i
			}
		case c > 1:
			dups += int(c) - 1
		}
	}
	if rr.others > 0 || rr.undecoded > 0 {
		out.printf("(ignored %d records of earlier runs and %d records that are not orders of this run)\n", rr.others, rr.undecoded)
	}
	if missing == 0 && dups == 0 {
		out.printf("all %d records arrived, 0 missing, 0 duplicates (read from %d shards)\n", n, rr.shards)
		return nil
	}
	first := ""
	if firstMissing >= 0 {
		first = fmt.Sprintf(" (first: seq %d)", firstMissing)
	}
	out.printf("FAILED: %d of %d records arrived, %d missing%s, %d duplicates\n", n-missing, n, missing, first, dups)
	return fmt.Errorf("%d records missing and %d duplicates", missing, dups)
}
