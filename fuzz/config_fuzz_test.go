package fuzz

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/internal/hashkey"
)

// cfgClient is an in-process Kinesis of one shard that writes every record:
// PutRecords and ListShards, without network.
type cfgClient struct {
	mu  sync.Mutex
	seq int
}

func (c *cfgClient) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	for i := range in.Records {
		c.seq++
		out.Records[i] = types.PutRecordsResultEntry{ShardId: aws.String("shardId-000000000000"), SequenceNumber: aws.String(strconv.Itoa(c.seq))}
	}
	return out, nil
}

func (c *cfgClient) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return &kinesis.ListShardsOutput{Shards: []types.Shard{{
		ShardId:      aws.String("shardId-000000000000"),
		HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String(hashkey.Max().String())},
	}}}, nil
}

// FuzzNewKinesisConfig: NewKinesis over any Config returns a *ConfigError
// or a stream that takes a record and stops; it never panics, and never
// allocates without bound. The client is an in-process fake, so a run is
// fast. Numbers are fuzzed whole (int64) so that the extremes come up.
func FuzzNewKinesisConfig(f *testing.F) {
	f.Add("s", int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), "", uint8(0))
	f.Add("s", int64(500), int64(10<<20), int64(1<<24), int64(1<<40), int64(1024), int64(1<<30), int64(time.Hour), int64(time.Hour), int64(time.Hour), int64(time.Hour), int64(7*24*time.Hour), int64(10<<20), int64(1<<20), int64(10<<20), int64(1<<20), int64(1000), int64(7*24*time.Hour), "arn:aws:kinesis:us-east-1:123456789012:stream/s", uint8(7))
	f.Add("s", int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), "arn:aws:kinesis:us-east-1:123456789012:stream/other", uint8(2))
	f.Add("s", int64(1), int64(1), int64(1), int64(1), int64(1), int64(1<<62), int64(1<<62), int64(1<<62), int64(1), int64(1), int64(1), int64(21), int64(1<<40), int64(21), int64(1), int64(1), int64(1), "arn:bogus", uint8(3))
	f.Fuzz(func(t *testing.T, name string, batchSize, batchBytes, maxBatch, maxBuffered, maxGroup, retryCount,
		retryInterval, maxRetryInterval, flushInterval, requestTimeout, recordTTL, maxRecordSize,
		errorBuffer, aggMaxBytes, aggMaxCount, rateLimit, throttleTTL int64, arn string, flags uint8) {
		cfg := inskinesis.Config[[]byte]{
			StreamName:             name,
			Codec:                  codec.Bytes{},
			Client:                 &cfgClient{},
			MaxStreamBatchSize:     int(batchSize),
			MaxStreamBatchByteSize: int(batchBytes),
			MaxBatchSize:           int(maxBatch),
			MaxBufferedBytes:       int(maxBuffered),
			MaxGroup:               int(maxGroup),
			RetryCount:             int(retryCount),
			RetryInterval:          time.Duration(retryInterval),
			MaxRetryInterval:       time.Duration(maxRetryInterval),
			FlushInterval:          time.Duration(flushInterval),
			RequestTimeout:         time.Duration(requestTimeout),
			RecordTTL:              time.Duration(recordTTL),
			MaxRecordSize:          int(maxRecordSize),
			ErrorBufferSize:        int(errorBuffer),
			AggregateRecords:       flags&1 != 0,
			OrderByKey:             flags&2 != 0,
			AggregationMaxBytes:    int(aggMaxBytes),
			AggregationMaxCount:    int(aggMaxCount),
			ShardRateLimit:         int(rateLimit),
			ThrottleTTL:            time.Duration(throttleTTL),
			StreamARN:              arn,
		}
		if flags&4 != 0 {
			cfg.ExplicitHashKey = func([]byte) string { return "1" }
		}
		if flags&8 != 0 {
			cfg.Region = "us-east-1"
		}
		s, err := inskinesis.NewKinesis(cfg)
		if err != nil {
			if s != nil {
				t.Fatalf("NewKinesis returned a stream and %v", err)
			}
			if (cfg.AggregateRecords || cfg.ShardRateLimit > 0) && errors.Is(err, context.DeadlineExceeded) {
				return // a RequestTimeout of nanoseconds: the shard map could not be read in time
			}
			var ce *inskinesis.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, inskinesis.ErrInvalidConfig) || ce.Field == "" {
				t.Fatalf("NewKinesis failed with %v (%T), want a *ConfigError", err, err)
			}
			return
		}
		putErr := s.Put([]byte("x"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if putErr != nil && !errors.Is(putErr, inskinesis.ErrRecordTooLarge) {
			t.Fatalf("Put: %v", putErr)
		}
		st := s.Stats()
		if putErr == nil && st.Delivered+st.Failed != 1 {
			// Failed: a RecordTTL of nanoseconds expires the record.
			t.Fatalf("a working stream accounted for %d of 1 records: %+v", st.Delivered+st.Failed, st)
		}
	})
}
