package inskinesis

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/hashkey"
)

// listingFake is fakeKinesis with a one-shard map, whose later ListShards
// calls can fail or panic, and whose PutRecords can report any shard.
type listingFake struct {
	*fakeKinesis
	mu        sync.Mutex
	lists     int
	listErr   error
	listPanic bool
	landOn    string // the shard every entry is reported on; "" the map's one
}

func (f *listingFake) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.lists > 1 && f.listPanic {
		panic("ListShards panics")
	}
	if f.lists > 1 && f.listErr != nil {
		return nil, f.listErr
	}
	return &kinesis.ListShardsOutput{Shards: []types.Shard{{
		ShardId:      aws.String("shardId-000000000000"),
		HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String(hashkey.Max().String())},
	}}}, nil
}

func (f *listingFake) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out, err := f.fakeKinesis.PutRecords(ctx, in, o...)
	f.mu.Lock()
	defer f.mu.Unlock()
	if out != nil && f.landOn != "" {
		for i := range out.Records {
			if out.Records[i].ErrorCode == nil {
				out.Records[i].ShardId = aws.String(f.landOn)
			}
		}
	}
	return out, err
}

func aggregated(r storedRecord) bool { return strings.HasPrefix(r.Data, aggregate.Magic) }

// A record parked behind its key (OrderByKey) is released into a builder of
// the shard stage when the record ahead of it fails; it must go out on its
// own linger, not wait for the next Put.
func TestParkedRecordReleasedIntoBuilderIsSent(t *testing.T) {
	f := &listingFake{fakeKinesis: newFake(30)}
	f.failCall = func(_ *rand.Rand, call int) (error, bool) {
		if call == 1 {
			return &smithy.GenericAPIError{Code: "ValidationException", Message: "bad", Fault: smithy.FaultClient}, false
		}
		return nil, false
	}
	s := newTestStream(t, f.fakeKinesis, func(c *Config[event]) {
		c.Client = f
		c.AggregateRecords, c.OrderByKey = true, true
		c.FlushInterval = 10 * time.Millisecond
	})
	got := make(chan Result[event], 2)
	cb := func(r Result[event]) { got <- r }
	require.NoError(t, s.PutAsync(context.Background(), event{ID: 1, Key: "a"}, cb))
	require.NoError(t, s.PutAsync(context.Background(), event{ID: 2, Key: "a"}, cb))
	r1 := <-got
	assert.Equal(t, 1, r1.Record.ID)
	assert.Error(t, r1.Err)
	select {
	case r2 := <-got:
		assert.Equal(t, 2, r2.Record.ID)
		assert.NoError(t, r2.Err)
	case <-time.After(10 * time.Second): // a failure bound, far above the 10 ms linger
		t.Fatalf("the released record was not sent; Stats %+v", s.Stats())
	}
}

// An aggregate that lands on a shard the map does not know, while the map
// cannot be read again, is taken apart and its records sent as plain
// records, which route themselves, instead of the same aggregate again.
func TestUnverifiedAggregateIsResentAsPlainRecords(t *testing.T) {
	f := &listingFake{fakeKinesis: newFake(31), listErr: errors.New("LimitExceededException"), landOn: "shardId-000000000009"}
	s := newTestStream(t, f.fakeKinesis, func(c *Config[event]) {
		c.Client = f
		c.AggregateRecords = true
	})
	require.NoError(t, s.Put(event{ID: 1, Key: "a"}))
	require.NoError(t, s.Put(event{ID: 2, Key: "b"}))
	s.FlushAndStopStreaming()
	_, calls := f.snapshot()
	require.Len(t, calls, 2)
	require.Len(t, calls[0], 1)
	assert.True(t, aggregated(calls[0][0]), "first an aggregate")
	require.Len(t, calls[1], 2)
	for _, r := range calls[1] {
		assert.False(t, aggregated(r), "then plain records")
	}
	st := s.Stats()
	assert.Equal(t, int64(2), st.Delivered)
	assert.Zero(t, st.Failed)
}

// A panic of ListShards in a background refresh fails the refresh, not the
// program, and the records still arrive.
func TestListShardsPanicInRefresh(t *testing.T) {
	f := &listingFake{fakeKinesis: newFake(32), listPanic: true, landOn: "shardId-000000000009"}
	s := newTestStream(t, f.fakeKinesis, func(c *Config[event]) {
		c.Client = f
		c.AggregateRecords = true
	})
	require.NoError(t, s.Put(event{ID: 1, Key: "a"}))
	require.NoError(t, s.Put(event{ID: 2, Key: "b"}))
	s.FlushAndStopStreaming()
	assert.Equal(t, int64(2), s.Stats().Delivered)
	f.mu.Lock()
	assert.Greater(t, f.lists, 1, "the map was read again")
	f.mu.Unlock()
}

// A whole call throttled counts every record of its aggregates.
func TestThrottledCountsRecordsOfAggregates(t *testing.T) {
	f := &listingFake{fakeKinesis: newFake(33)}
	f.failCall = func(_ *rand.Rand, call int) (error, bool) {
		if call == 1 {
			return &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}, false
		}
		return nil, false
	}
	s := newTestStream(t, f.fakeKinesis, func(c *Config[event]) {
		c.Client = f
		c.AggregateRecords = true
	})
	require.NoError(t, s.Put(event{ID: 1, Key: "a"}))
	require.NoError(t, s.Put(event{ID: 2, Key: "b"}))
	s.FlushAndStopStreaming()
	st := s.Stats()
	assert.Equal(t, int64(2), st.Delivered)
	assert.Equal(t, int64(2), st.Throttled)
	assert.Equal(t, int64(2), st.Retried)
}
