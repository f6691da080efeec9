package inskinesis_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// gatedClient is a kinesistest client whose DescribeStreamSummary calls
// after the first, and PutRecords calls while putGate is set, wait for the
// test to let them through. Each waiting call first says so on entered.
type gatedClient struct {
	c         *kinesis.Client
	summaries chan struct{} // closed to let DescribeStreamSummary calls after the first through
	first     chan struct{} // holds a token until the first summary was read
	putGate   chan chan struct{}
	entered   chan string
	lists     atomic.Int32 // ListShards calls
	failLists bool         // fail ListShards after the first, so that a refresh brings no new map
}

func newGatedClient(c *kinesis.Client) *gatedClient {
	g := &gatedClient{c: c, summaries: make(chan struct{}), first: make(chan struct{}, 1), putGate: make(chan chan struct{}, 1), entered: make(chan string, 16)}
	g.first <- struct{}{}
	return g
}

func (g *gatedClient) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	select {
	case <-g.first:
	default:
		g.entered <- "DescribeStreamSummary"
		select {
		case <-g.summaries:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.c.DescribeStreamSummary(ctx, in, o...)
}

func (g *gatedClient) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	select {
	case gate := <-g.putGate:
		g.entered <- "PutRecords"
		<-gate
	default:
	}
	return g.c.PutRecords(ctx, in, o...)
}

func (g *gatedClient) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if g.lists.Add(1) > 1 && g.failLists {
		return nil, &smithy.GenericAPIError{Code: "LimitExceededException", Message: "Rate exceeded for ListShards"}
	}
	return g.c.ListShards(ctx, in, o...)
}

func (g *gatedClient) wait(t *testing.T, op string) {
	t.Helper()
	select {
	case got := <-g.entered:
		require.Equal(t, op, got)
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s call within 10 s", op)
	}
}

// TestAutoSwitchSendsWaitingRecordsPlain drives the moment the stream
// learns of AUTO: records waiting in aggregation builders then, and
// aggregates queued but not yet sent, go as plain records. The switch is
// held back by holding the summary read that the first astray aggregate
// starts.
func TestAutoSwitchSendsWaitingRecordsPlain(t *testing.T) {
	for _, queued := range []bool{false, true} {
		name := "in builders"
		if queued {
			name = "in queued aggregates"
		}
		t.Run(name, func(t *testing.T) {
			srv := kinesistest.Start(t)
			c := srv.Client()
			arn := onDemandStream(t, c, "s", 0)
			shards, err := srv.Shards("s")
			require.NoError(t, err)
			g := newGatedClient(c)
			g.failLists = true // the new state alone must take records out of builders and queued aggregates
			cfg := aggConfig("s", g)
			cfg.MaxBatchSize = 5000
			cfg.FlushInterval = time.Hour // records wait in builders until Flush
			cfg.MaxStreamBatchSize = 1    // one aggregate a call, the others queued
			s, err := inskinesis.NewKinesis(cfg)
			require.NoError(t, err)
			defer s.FlushAndStopStreaming()
			setStrategy(t, c, arn, types.RecordDistributionStrategyAuto)

			// One aggregate of shard 1's records, placed on shard 0:
			// astray. Its records are sent again, plain; the summary read
			// it started waits.
			first := eventsInShard(t, shards[1], 0, 200)
			for _, e := range first {
				require.NoError(t, s.Put(e))
			}
			require.NoError(t, s.Flush(context.Background()))
			g.wait(t, "DescribeStreamSummary")
			require.True(t, s.Stats().AggregationActive)

			var second []aggEvent
			for i, sh := range shards {
				second = append(second, eventsInShard(t, sh, 1000*(i+1), 100)...)
			}
			for _, e := range second {
				require.NoError(t, s.Put(e))
			}
			flushed := make(chan error, 1)
			release := make(chan struct{})
			if queued {
				// Flush seals four aggregates; the first call holds one,
				// the other three wait in the queue.
				g.putGate <- release
				go func() { flushed <- s.Flush(context.Background()) }()
				g.wait(t, "PutRecords")
			}
			close(g.summaries)
			waitStats(t, s, "AUTO noticed", func(st inskinesis.Stats) bool { return st.ServiceManagedDistribution })
			require.False(t, s.Stats().AggregationActive)
			if queued {
				close(release)
				require.NoError(t, <-flushed)
			} else {
				require.NoError(t, s.Flush(context.Background()))
			}
			s.FlushAndStopStreaming()
			st := s.Stats()
			all := append(first, second...)
			require.EqualValues(t, len(all), st.Delivered)
			require.Zero(t, st.Failed)

			stored, ranges := aggServerRecords(t, srv, "s")
			aggCheck(t, stored, ranges, all, aggLimits{maxBytes: inskinesis.DefaultAggregationMaxBytes, maxCount: inskinesis.DefaultAggregationMaxCount, ehkStored: true, resharded: true})
			aggregates := 0 // stored aggregates of the second batch
			for _, r := range stored {
				users, err := aggregation.Deaggregate(r.kinesisRecord())
				require.NoError(t, err)
				if len(users) > 1 && users[0].Aggregated {
					var e aggEvent
					require.NoError(t, json.Unmarshal(users[0].Data, &e))
					if e.ID >= 1000 {
						aggregates++
					}
				}
			}
			want := 0
			if queued {
				want = 1 // the aggregate in flight at the switch
			}
			require.Equal(t, want, aggregates, "aggregates of the second batch sent")
		})
	}
}
