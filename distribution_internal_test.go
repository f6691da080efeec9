package inskinesis

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis/kinesistest"
)

// TestAutoSwitchBack: a stream that found AUTO reads the summary again
// (every distributionRecheck, shortened here) and notices the switch back
// to partition keys. Keyless records it took while AUTO and still holds are
// then reported with ErrInvalidPartitionKey, alone: the keyed records
// around them are delivered. Put refuses empty keys again.
func TestAutoSwitchBack(t *testing.T) {
	savedRecheck, savedMin := distributionRecheck, summaryMinInterval
	distributionRecheck, summaryMinInterval = 10*time.Millisecond, time.Millisecond
	defer func() { distributionRecheck, summaryMinInterval = savedRecheck, savedMin }()

	srv := kinesistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
	require.NoError(t, err)
	arn := kinesistest.StreamARN("s")
	strategy := func(d types.RecordDistributionStrategy) {
		_, err := c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: aws.String(arn), RecordDistributionStrategy: d})
		require.NoError(t, err)
	}
	strategy(types.RecordDistributionStrategyAuto)

	s, err := NewKinesis(Config[event]{StreamName: "s", Client: c, Partitioner: byKey, AggregateRecords: true, MaxBatchSize: 1000, FlushInterval: time.Hour})
	require.NoError(t, err)
	errs := drainErrors(s)
	require.True(t, s.Stats().ServiceManagedDistribution)
	// Held by the hour-long FlushInterval until Flush.
	for i := 0; i < 20; i++ {
		key := ""
		if i%2 == 1 {
			key = "k"
		}
		require.NoError(t, s.Put(event{ID: i, Key: key}))
	}
	strategy(types.RecordDistributionStrategyUserPartitionKey)
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().ServiceManagedDistribution { // changed by the loop after a background read
		require.True(t, time.Now().Before(deadline), "the switch back was not noticed within 10 s")
		time.Sleep(time.Millisecond)
	}
	st := s.Stats()
	require.True(t, st.AggregationActive)
	require.NoError(t, st.DistributionErr)
	require.ErrorIs(t, s.Put(event{ID: 99}), ErrInvalidPartitionKey)
	require.NoError(t, s.Flush(ctx))
	s.FlushAndStopStreaming()

	st = s.Stats()
	require.EqualValues(t, 10, st.Delivered)
	require.EqualValues(t, 10, st.Failed)
	pes := errs()
	require.Len(t, pes, 1)
	require.Len(t, pes[0].Records, 10)
	require.Equal(t, "InvalidPartitionKey", pes[0].Code)
	require.True(t, errors.Is(pes[0], ErrInvalidPartitionKey))
	for _, e := range pes[0].Records {
		require.Empty(t, e.Key)
	}
	recs, err := srv.Records("s")
	require.NoError(t, err)
	n := 0
	for _, r := range recs {
		require.NotEmpty(t, r.PartitionKey)
		n++
	}
	require.Positive(t, n)
}

// TestAutoKeylessRecordsIgnoreOrderByKey: with OrderByKey, keyless records
// on an AUTO stream are not held back one at a time as records of one key
// would be: they batch together.
func TestAutoKeylessRecordsIgnoreOrderByKey(t *testing.T) {
	srv := kinesistest.Start(t)
	c := srv.Client()
	ctx := context.Background()
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
	require.NoError(t, err)
	_, err = c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN:                  aws.String(kinesistest.StreamARN("s")),
		RecordDistributionStrategy: types.RecordDistributionStrategyAuto,
	})
	require.NoError(t, err)
	s, err := NewKinesis(Config[event]{StreamName: "s", Client: c, Partitioner: byKey, ShardRateLimit: 100, OrderByKey: true, FlushInterval: time.Hour})
	require.NoError(t, err)
	for i := 0; i < 100; i++ {
		require.NoError(t, s.Put(event{ID: i}))
	}
	require.NoError(t, s.Flush(ctx))
	s.FlushAndStopStreaming()
	st := s.Stats()
	require.EqualValues(t, 100, st.Delivered)
	require.EqualValues(t, 1, st.Requests, "100 keyless records in one call")
}

// panickyLister is a kinesistest client whose ListShards panics after the
// first call, and counts the calls.
type panickyLister struct {
	*kinesis.Client
	lists atomic.Int32
}

func (p *panickyLister) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if p.lists.Add(1) > 1 {
		panic("lister bug")
	}
	return p.Client.ListShards(ctx, in, o...)
}

// TestAutoKeptWhenRefreshPanics: a refresh whose ListShards panics does not
// read the summary, and the stream keeps the AUTO state it knew (it goes on
// reading again, which it does only while AUTO).
func TestAutoKeptWhenRefreshPanics(t *testing.T) {
	savedRecheck, savedMin := distributionRecheck, summaryMinInterval
	distributionRecheck, summaryMinInterval = time.Millisecond, time.Millisecond
	defer func() { distributionRecheck, summaryMinInterval = savedRecheck, savedMin }()

	srv := kinesistest.Start(t)
	ctx := context.Background()
	c := srv.Client()
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
	require.NoError(t, err)
	_, err = c.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN:                  aws.String(kinesistest.StreamARN("s")),
		RecordDistributionStrategy: types.RecordDistributionStrategyAuto,
	})
	require.NoError(t, err)
	p := &panickyLister{Client: c}
	s, err := NewKinesis(Config[event]{StreamName: "s", Client: p, Partitioner: byKey, AggregateRecords: true})
	require.NoError(t, err)
	defer s.FlushAndStopStreaming()
	// Refreshes run one at a time: a fourth listing began after the
	// second and third had their outcome.
	deadline := time.Now().Add(10 * time.Second)
	for p.lists.Load() < 4 { // the stream reads again on its own timer
		require.True(t, time.Now().Before(deadline), "the stream stopped reading the summary: %d listings", p.lists.Load())
		time.Sleep(time.Millisecond)
	}
	require.True(t, s.Stats().ServiceManagedDistribution)
}

// countingClient counts ListShards and DescribeStreamSummary calls of a
// kinesistest client.
type countingClient struct {
	*kinesis.Client
	lists, summaries atomic.Int32
}

func (c *countingClient) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	c.lists.Add(1)
	return c.Client.ListShards(ctx, in, o...)
}

func (c *countingClient) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	c.summaries.Add(1)
	return c.Client.DescribeStreamSummary(ctx, in, o...)
}

// TestSummaryReadsAreSpaced: DescribeStreamSummary has a low account-wide
// rate limit, so refreshes within summaryMinInterval of the last read list
// the shards alone. Here the interval outlasts the test: the stream that
// was switched to AUTO after it started refreshes its map for every
// aggregate that lands astray, reads no summary, and still delivers every
// record (those aggregates' records are sent again plain).
func TestSummaryReadsAreSpaced(t *testing.T) {
	savedMin := summaryMinInterval
	summaryMinInterval = time.Hour
	defer func() { summaryMinInterval = savedMin }()

	srv := kinesistest.Start(t)
	ctx := context.Background()
	kc := srv.Client()
	_, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
	require.NoError(t, err)
	c := &countingClient{Client: kc}
	s, err := NewKinesis(Config[event]{StreamName: "s", Client: c, Partitioner: byKey, AggregateRecords: true, MaxBatchSize: 5000})
	require.NoError(t, err)
	_, err = kc.UpdateStreamRecordDistributionStrategy(ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN:                  aws.String(kinesistest.StreamARN("s")),
		RecordDistributionStrategy: types.RecordDistributionStrategyAuto,
	})
	require.NoError(t, err)
	for round := 0; round < 5; round++ {
		for i := 0; i < 400; i++ {
			require.NoError(t, s.Put(event{ID: round*1000 + i, Key: strconv.Itoa(i)}))
		}
		require.NoError(t, s.Flush(ctx))
	}
	s.FlushAndStopStreaming()
	st := s.Stats()
	require.EqualValues(t, 2000, st.Delivered)
	require.Zero(t, st.Failed)
	require.False(t, st.ServiceManagedDistribution, "no summary was read after the switch")
	require.Greater(t, c.lists.Load(), int32(1), "the map was read again")
	require.EqualValues(t, 1, c.summaries.Load(), "summaries read: the one at start")
}
