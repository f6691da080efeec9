package inskinesis

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// flakyLister fails the next fails ListShards calls.
type flakyLister struct {
	*kinesis.Client
	fails atomic.Int32
}

func (c *flakyLister) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if c.fails.Add(-1) >= 0 {
		return nil, errors.New("ListShards: injected failure")
	}
	return c.Client.ListShards(ctx, in, o...)
}

// TestFailedMapReadDoesNotResendAggregates: after a reshard the stream has
// not read yet, aggregates land on a shard its map does not know; when the
// next read of the map fails, they wait for another read, which shows that
// they landed where they belong, instead of being sent again.
func TestFailedMapReadDoesNotResendAggregates(t *testing.T) {
	srv := kinesistest.Start(t)
	c := &flakyLister{Client: srv.Client()}
	ctx := context.Background()
	require.NoError(t, srv.CreateStream("s", 1))
	s, err := NewKinesis(Config[event]{StreamName: "s", Client: c, Partitioner: byKey, AggregateRecords: true, FlushInterval: time.Hour})
	require.NoError(t, err)
	errs := drainErrors(s)
	half := new(big.Int).Lsh(big.NewInt(1), 127)
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String(half.String())})
	require.NoError(t, err)
	c.fails.Store(2)
	n := 0
	for i := 0; n < 20; i++ {
		k := fmt.Sprint("key", i)
		if h := md5.Sum([]byte(k)); h[0] < 0x80 { // all in the upper child shard
			continue
		}
		require.NoError(t, s.Put(event{ID: n, Key: k}))
		n++
	}
	s.FlushAndStopStreaming()
	require.Empty(t, errs())
	recs, err := srv.KinesisRecords("s")
	require.NoError(t, err)
	stored := map[int]int{}
	for _, r := range recs {
		urs, err := aggregation.Deaggregate(r)
		require.NoError(t, err)
		for _, ur := range urs {
			var e event
			require.NoError(t, json.Unmarshal(ur.Data, &e))
			stored[e.ID]++
		}
	}
	require.Len(t, stored, n)
	for id, k := range stored {
		require.Equal(t, 1, k, "record %d written %d times: its aggregate lay in the shard it landed on", id, k)
	}
}
