package inskinesis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/aggregation"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// The tests of service-managed record distribution (AUTO) and per-stream
// maximum record sizes, against kinesistest. Under AUTO kinesistest places
// records on the open shards in turn, whatever their keys, starting with the
// first open shard when the strategy is set.

// onDemandStream creates an ON_DEMAND stream (4 shards) on srv and returns
// its ARN.
func onDemandStream(t *testing.T, c *kinesis.Client, name string, kib int32) string {
	t.Helper()
	in := &kinesis.CreateStreamInput{
		StreamName:        aws.String(name),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand},
	}
	if kib > 0 {
		in.MaxRecordSizeInKiB = aws.Int32(kib)
	}
	_, err := c.CreateStream(context.Background(), in)
	require.NoError(t, err)
	return kinesistest.StreamARN(name)
}

func setStrategy(t *testing.T, c *kinesis.Client, arn string, d types.RecordDistributionStrategy) {
	t.Helper()
	_, err := c.UpdateStreamRecordDistributionStrategy(context.Background(), &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN: aws.String(arn), RecordDistributionStrategy: d,
	})
	require.NoError(t, err)
}

// eventsInShard returns n events whose keys hash into shard sh, with IDs
// from first on.
func eventsInShard(t *testing.T, sh kinesistest.Shard, first, n int) []aggEvent {
	t.Helper()
	var out []aggEvent
	for i := 0; len(out) < n; i++ {
		key := fmt.Sprintf("key-%d-%d", first, i)
		if sh.Contains(kinesistest.HashKey(key)) {
			out = append(out, aggEvent{ID: first + len(out), Key: key})
		}
		require.Less(t, i, 1000*n, "no keys found in shard %s", sh.ID)
	}
	return out
}

// waitStats polls the stream's Stats until ok holds, for at most 10 s. The
// stream changes its distribution state on its own goroutine when a
// background read of the stream summary returns, which no call of the
// stream waits for; the poll waits for that state, not for time.
func waitStats(t *testing.T, s *inskinesis.Stream[aggEvent], what string, ok func(inskinesis.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after 10 s; Stats = %+v", what, s.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// storedPlain maps each event ID read back from stored to whether it was
// read back from at least one plain record.
func storedPlain(t *testing.T, stored []aggStored) map[int]bool {
	t.Helper()
	plain := map[int]bool{}
	for _, r := range stored {
		users, err := aggregation.Deaggregate(r.kinesisRecord())
		require.NoError(t, err)
		for _, u := range users {
			var e aggEvent
			require.NoError(t, json.Unmarshal(u.Data, &e))
			plain[e.ID] = plain[e.ID] || !u.Aggregated
		}
	}
	return plain
}

// TestAutoDistributionMidRun switches an aggregating stream's server to
// AUTO between batches. The first aggregate sent after the switch lands on a
// shard that does not own its records (kinesistest places it on the first
// shard; its records belong to the second), so the stream reads the map and
// the summary again, finds AUTO, sends that aggregate's records again as
// plain records, and from then on sends plain records only. Nothing is
// lost, every record is read back once from a record the KCL keeps, and
// the stream says what it does in Stats.
func TestAutoDistributionMidRun(t *testing.T) {
	srv := kinesistest.Start(t)
	c := srv.Client()
	arn := onDemandStream(t, c, "mid-run", 0)
	shards, err := srv.Shards("mid-run")
	require.NoError(t, err)
	require.Len(t, shards, 4)

	cfg := aggConfig("", c)
	cfg.StreamARN = arn
	cfg.MaxBatchSize = 5000
	aggHook := &aggStateHook{}
	var logBuf syncBuffer
	cfg.Hooks = []inskinesis.Hook{aggHook}
	cfg.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	s, err := inskinesis.NewKinesis(cfg)
	require.NoError(t, err)
	st := s.Stats()
	require.True(t, st.AggregationActive, "aggregating before the switch")
	require.False(t, st.ServiceManagedDistribution)
	require.NoError(t, st.DistributionErr)

	var all []aggEvent
	var mu = make(chan struct{}, 1)
	results := map[int]inskinesis.Result[aggEvent]{}
	put := func(events []aggEvent) {
		for _, e := range events {
			require.NoError(t, s.PutAsync(context.Background(), e, func(r inskinesis.Result[aggEvent]) {
				mu <- struct{}{}
				results[r.Record.ID] = r
				<-mu
			}))
		}
		all = append(all, events...)
		require.NoError(t, s.Flush(context.Background()))
	}
	put(aggEvents(2000, 7, 5)) // aggregated on the right shards
	setStrategy(t, c, arn, types.RecordDistributionStrategyAuto)
	put(eventsInShard(t, shards[1], 2000, 300)) // one aggregate for shard 1, placed on shard 0
	waitStats(t, s, "AUTO noticed", func(st inskinesis.Stats) bool { return st.ServiceManagedDistribution })
	st = s.Stats()
	require.False(t, st.AggregationActive, "aggregating after AUTO was found")
	third := aggEvents(1000, 11, 0)
	for i := range third {
		third[i].ID += 3000
	}
	put(third)
	s.FlushAndStopStreaming()

	require.Len(t, results, len(all))
	for id, r := range results {
		require.NoError(t, r.Err, "record %d", id)
	}
	st = s.Stats()
	require.EqualValues(t, len(all), st.Delivered)
	require.Zero(t, st.Failed)

	stored, ranges := aggServerRecords(t, srv, "mid-run")
	sum, _ := aggCheck(t, stored, ranges, all, aggLimits{maxBytes: inskinesis.DefaultAggregationMaxBytes, maxCount: inskinesis.DefaultAggregationMaxCount, ehkStored: true, resharded: true})
	require.NotZero(t, sum.aggregates, "the first batch was aggregated")
	require.NotZero(t, sum.droppedAggregates, "the aggregate sent after the switch landed astray")
	for id, n := range sum.dropped {
		require.True(t, results[id].MaybeDuplicate, "record %d, in an aggregate the KCL drops (%d times), was sent again and may be a duplicate", id, n)
	}
	plain := storedPlain(t, stored)
	perShard := map[string]int{}
	for _, e := range third {
		require.True(t, plain[e.ID], "record %d, put after AUTO was found, went in an aggregate", e.ID)
		perShard[results[e.ID].ShardID]++
	}
	require.Len(t, perShard, 4, "plain records under AUTO are spread over every shard")

	aggHook.mu.Lock()
	defer aggHook.mu.Unlock()
	require.Len(t, aggHook.events, 2, "aggregation on at start, off at the switch: %+v", aggHook.events)
	require.True(t, aggHook.events[0].On)
	require.False(t, aggHook.events[1].On)
	require.Contains(t, aggHook.events[1].Reason, "AUTO")
	require.Contains(t, logBuf.String(), "aggregation turned off")
}

// aggStateHook records the aggregation state a stream reports.
type aggStateHook struct {
	mu     sync.Mutex
	events []inskinesis.Aggregation
}

func (h *aggStateHook) OnAggregation(e inskinesis.Aggregation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
}

// syncBuffer is a bytes.Buffer safe for the stream's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestAutoDistributionAtStart: a stream that is AUTO when the producer
// starts gets plain records from the first, and takes records with no
// partition key; the key is left out of the request.
func TestAutoDistributionAtStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*inskinesis.Config[aggEvent])
	}{
		{"AggregateRecords", func(c *inskinesis.Config[aggEvent]) {}},
		// 1 % of a shard's limits is 10 records/s: were the limit still
		// applied to predicted shards, 2000 records would take minutes.
		{"ShardRateLimit", func(c *inskinesis.Config[aggEvent]) { c.AggregateRecords, c.ShardRateLimit = false, 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := kinesistest.Start(t, kinesistest.WithShardLimits(kinesistest.AWSShardLimits()))
			c := srv.Client()
			arn := onDemandStream(t, c, "auto", 0)
			setStrategy(t, c, arn, types.RecordDistributionStrategyAuto)
			cfg := aggConfig("auto", c)
			cfg.StreamARN = arn
			cfg.MaxBatchSize = 5000
			cfg.Partitioner = func(e aggEvent) string {
				if e.ID%2 == 0 {
					return ""
				}
				return e.Key
			}
			tc.mod(&cfg)
			s, err := inskinesis.NewKinesis(cfg)
			require.NoError(t, err)
			st := s.Stats()
			require.True(t, st.ServiceManagedDistribution)
			require.False(t, st.AggregationActive)
			require.NoError(t, st.DistributionErr)

			// 2000 records at once, half of them of one key: the server
			// spreads them over its 4 shards, within each shard's limits.
			events := aggEvents(2000, 3, 0)
			for i := range events {
				if i%2 == 1 {
					events[i].Key = "one-key"
				}
			}
			results := aggPut(t, s, events)
			recs, err := srv.Records("auto")
			require.NoError(t, err)
			require.Len(t, recs, len(events), "one Kinesis record per record: no aggregates")
			perShard := map[string]int{}
			bytes := 0 // data plus key, as Kinesis counts them: no key, no key bytes
			for _, r := range recs {
				perShard[r.ShardID]++
				bytes += len(r.Data) + len(r.PartitionKey)
				var e aggEvent
				require.NoError(t, json.Unmarshal(r.Data, &e))
				want := e.Key
				if e.ID%2 == 0 {
					want = ""
				}
				require.Equal(t, want, r.PartitionKey, "record %d", e.ID)
			}
			for id, n := range perShard {
				require.Equal(t, len(events)/4, n, "records on %s", id)
			}
			require.EqualValues(t, bytes, s.Stats().DeliveredBytes)
			require.Zero(t, srv.Stats().RecordsThrottled, "nothing throttled")
			for _, r := range results {
				require.False(t, r.MaybeDuplicate)
			}
		})
	}
}

// deniedSummary is a kinesistest client whose DescribeStreamSummary is
// refused, as for a caller without kinesis:DescribeStreamSummary.
type deniedSummary struct{ *kinesis.Client }

func (deniedSummary) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: kinesis:DescribeStreamSummary"}
}

// panickySummary is a kinesistest client whose DescribeStreamSummary
// panics.
type panickySummary struct{ *kinesis.Client }

func (panickySummary) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	panic("summary client bug")
}

// noSummary is a client with PutRecords and ListShards only.
type noSummary struct{ c *kinesis.Client }

func (n noSummary) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return n.c.PutRecords(ctx, in, o...)
}

func (n noSummary) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return n.c.ListShards(ctx, in, o...)
}

// TestAutoDistributionUnknown: without the summary the stream keeps
// aggregating, as the KPL does, and says why in Stats. On a stream with
// partition keys every aggregate is KCL-readable; on an AUTO stream the
// aggregates land astray, and the stream sends their records again as plain
// records, so that nothing is lost.
func TestAutoDistributionUnknown(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(*kinesis.Client) inskinesis.PutRecordsAPI
		code   string
	}{
		{"AccessDenied", func(c *kinesis.Client) inskinesis.PutRecordsAPI { return deniedSummary{c} }, "AccessDeniedException"},
		{"no DescribeStreamSummaryAPI", func(c *kinesis.Client) inskinesis.PutRecordsAPI { return noSummary{c} }, ""},
		{"DescribeStreamSummary panics", func(c *kinesis.Client) inskinesis.PutRecordsAPI { return panickySummary{c} }, ""},
	} {
		for _, auto := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/auto=%v", tc.name, auto), func(t *testing.T) {
				srv := kinesistest.Start(t)
				c := srv.Client()
				arn := onDemandStream(t, c, "s", 0)
				if auto {
					setStrategy(t, c, arn, types.RecordDistributionStrategyAuto)
				}
				cfg := aggConfig("s", tc.client(c))
				cfg.MaxBatchSize = 5000
				s, err := inskinesis.NewKinesis(cfg)
				require.NoError(t, err)
				st := s.Stats()
				require.True(t, st.AggregationActive)
				require.False(t, st.ServiceManagedDistribution)
				require.ErrorIs(t, st.DistributionErr, inskinesis.ErrStreamSummaryUnavailable)
				if tc.code != "" {
					var ae smithy.APIError
					require.ErrorAs(t, st.DistributionErr, &ae)
					require.Equal(t, tc.code, ae.ErrorCode())
				}
				// An empty key is still refused: the stream does not know
				// it may leave keys out.
				require.ErrorIs(t, s.Put(aggEvent{ID: -1}), inskinesis.ErrInvalidPartitionKey)
				events := aggEvents(2000, 5, 4)
				aggPut(t, s, events)
				require.True(t, s.Stats().AggregationActive)
				stored, ranges := aggServerRecords(t, srv, "s")
				sum, _ := aggCheck(t, stored, ranges, events, aggLimits{maxBytes: inskinesis.DefaultAggregationMaxBytes, maxCount: inskinesis.DefaultAggregationMaxCount, ehkStored: true, resharded: auto})
				require.NotZero(t, sum.aggregates, "still aggregating without the summary")
				if auto {
					require.NotZero(t, sum.droppedAggregates, "aggregates on an AUTO stream land astray")
				}
			})
		}
	}
}

// TestEmptyKeyNeedsAuto: an empty partition key is refused at Put unless
// the stream found AUTO distribution, whether or not it reads the summary.
func TestEmptyKeyNeedsAuto(t *testing.T) {
	srv := kinesistest.Start(t)
	c := srv.Client()
	onDemandStream(t, c, "s", 0)
	for _, mod := range []func(*inskinesis.Config[aggEvent]){
		func(*inskinesis.Config[aggEvent]) {},
		func(c *inskinesis.Config[aggEvent]) { c.AggregateRecords = false },
	} {
		cfg := aggConfig("s", c)
		mod(&cfg)
		s, err := inskinesis.NewKinesis(cfg)
		require.NoError(t, err)
		require.ErrorIs(t, s.Put(aggEvent{ID: 1}), inskinesis.ErrInvalidPartitionKey)
		s.FlushAndStopStreaming()
	}
}

// TestStreamMaxRecordSize: a stream that takes records up to 2 MiB lets a
// stream that reads its summary send them when MaxRecordSize is unset, and
// refuses a MaxRecordSize above the stream's; without the summary the
// default of 1 MiB stays.
func TestStreamMaxRecordSize(t *testing.T) {
	srv := kinesistest.Start(t)
	c := srv.Client()
	onDemandStream(t, c, "big", 2048)
	for _, tc := range []struct {
		name   string
		mod    func(*inskinesis.Config[[]byte])
		cfgErr bool
		tooBig bool
	}{
		{"aggregating, MaxRecordSize unset: the stream's 2 MiB", func(c *inskinesis.Config[[]byte]) { c.AggregateRecords = true }, false, false},
		{"rate limit, MaxRecordSize unset: the stream's 2 MiB", func(c *inskinesis.Config[[]byte]) { c.ShardRateLimit = 100 }, false, false},
		{"aggregating, MaxRecordSize 2 MiB", func(c *inskinesis.Config[[]byte]) { c.AggregateRecords, c.MaxRecordSize = true, 2<<20 }, false, false},
		{"aggregating, MaxRecordSize 4 MiB: above the stream's", func(c *inskinesis.Config[[]byte]) { c.AggregateRecords, c.MaxRecordSize = true, 4<<20 }, true, false},
		{"no summary read: the default 1 MiB", func(c *inskinesis.Config[[]byte]) {}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := inskinesis.Config[[]byte]{StreamName: "big", Client: c, Codec: codec.Bytes{}, Partitioner: func([]byte) string { return "k" }}
			tc.mod(&cfg)
			s, err := inskinesis.NewKinesis(cfg)
			if tc.cfgErr {
				var ce *inskinesis.ConfigError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, "MaxRecordSize", ce.Field)
				require.Contains(t, ce.Reason, "2097152")
				return
			}
			require.NoError(t, err)
			defer s.FlushAndStopStreaming()
			err = s.Put(make([]byte, 3<<19)) // 1.5 MiB
			if tc.tooBig {
				require.ErrorIs(t, err, inskinesis.ErrRecordTooLarge)
				return
			}
			require.NoError(t, err)
			require.NoError(t, s.Put(make([]byte, 2<<20-1))) // 2 MiB with the key
			require.ErrorIs(t, s.Put(make([]byte, 2<<20)), inskinesis.ErrRecordTooLarge)
			require.NoError(t, s.Flush(context.Background()))
			require.EqualValues(t, 2, s.Stats().Delivered)
			require.Zero(t, s.Stats().Failed)
		})
	}
}

// recordingClient passes calls to a kinesistest client and keeps how each
// call named the stream.
type recordingClient struct {
	c     *kinesis.Client
	mu    chan struct{}
	named map[string][]string // operation: "name|arn" of each call
}

func newRecordingClient(c *kinesis.Client) *recordingClient {
	return &recordingClient{c: c, mu: make(chan struct{}, 1), named: map[string][]string{}}
}

func (r *recordingClient) note(op string, name, arn *string) {
	r.mu <- struct{}{}
	r.named[op] = append(r.named[op], aws.ToString(name)+"|"+aws.ToString(arn))
	<-r.mu
}

func (r *recordingClient) calls(op string) []string {
	r.mu <- struct{}{}
	defer func() { <-r.mu }()
	return append([]string(nil), r.named[op]...)
}

func (r *recordingClient) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	r.note("PutRecords", in.StreamName, in.StreamARN)
	return r.c.PutRecords(ctx, in, o...)
}

func (r *recordingClient) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	r.note("ListShards", in.StreamName, in.StreamARN)
	return r.c.ListShards(ctx, in, o...)
}

func (r *recordingClient) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	r.note("DescribeStreamSummary", in.StreamName, in.StreamARN)
	return r.c.DescribeStreamSummary(ctx, in, o...)
}

// TestStreamARNOnEveryCall: the stream names its stream on every call as
// configured: by ARN alone, or by name and ARN.
func TestStreamARNOnEveryCall(t *testing.T) {
	srv := kinesistest.Start(t)
	require.NoError(t, srv.CreateStream("s", 3))
	arn := kinesistest.StreamARN("s")
	for _, tc := range []struct {
		name, want string
		cfgName    string
	}{
		{"ARN alone", "|" + arn, ""},
		{"name and ARN", "s|" + arn, "s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRecordingClient(srv.Client())
			cfg := aggConfig(tc.cfgName, rc)
			cfg.StreamARN = arn
			s, err := inskinesis.NewKinesis(cfg)
			require.NoError(t, err)
			aggPut(t, s, aggEvents(500, 9, 0))
			for _, op := range []string{"PutRecords", "ListShards", "DescribeStreamSummary"} {
				calls := rc.calls(op)
				require.NotEmpty(t, calls, op)
				for _, c := range calls {
					require.Equal(t, tc.want, c, op)
				}
			}
		})
	}
}

// TestStreamARNMissingStream: errors about a stream configured by ARN alone
// name the ARN.
func TestStreamARNMissingStream(t *testing.T) {
	srv := kinesistest.Start(t)
	arn := kinesistest.StreamARN("missing")
	_, err := inskinesis.NewKinesis(inskinesis.Config[aggEvent]{StreamARN: arn, Client: srv.Client(), AggregateRecords: true})
	require.Error(t, err)
	require.Contains(t, err.Error(), `stream "`+arn+`"`)
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "ResourceNotFoundException", ae.ErrorCode())
}

// TestStreamARNKinesalite: against kinesalite, which needs StreamName, a
// stream configured with the name and the ARN delivers every record,
// aggregated, on every call naming the stream both ways. kinesalite's
// summary has neither RecordDistributionStrategy nor MaxRecordSizeInKiB:
// the stream reads it, keeps aggregating and keeps MaxRecordSize at its
// default.
func TestStreamARNKinesalite(t *testing.T) {
	c := aggKinesalite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	name := aggSDKStream(t, ctx, c, 2)
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	require.NoError(t, err)
	arn := aws.ToString(sum.StreamDescriptionSummary.StreamARN)
	require.NotEmpty(t, arn)

	rc := newRecordingClient(c)
	cfg := aggConfig(name, rc)
	cfg.StreamARN = arn
	s, err := inskinesis.NewKinesis(cfg)
	require.NoError(t, err)
	st := s.Stats()
	require.True(t, st.AggregationActive)
	require.False(t, st.ServiceManagedDistribution)
	require.NoError(t, st.DistributionErr)
	require.ErrorIs(t, s.Put(aggEvent{ID: -1}), inskinesis.ErrInvalidPartitionKey, "an empty key needs AUTO")

	events := aggEvents(2000, 13, 5)
	aggPut(t, s, events)
	for _, op := range []string{"PutRecords", "ListShards", "DescribeStreamSummary"} {
		calls := rc.calls(op)
		require.NotEmpty(t, calls, op)
		for _, call := range calls {
			require.Equal(t, name+"|"+arn, call, op)
		}
	}
	stored, ranges := aggReadStream(t, ctx, c, name)
	res, _ := aggCheck(t, stored, ranges, events, aggLimits{maxBytes: inskinesis.DefaultAggregationMaxBytes, maxCount: inskinesis.DefaultAggregationMaxCount})
	require.Positive(t, res.aggregates)

	// The default MaxRecordSize stays: kinesalite says nothing of it.
	big, err := inskinesis.NewKinesis(inskinesis.Config[[]byte]{StreamName: name, StreamARN: arn, Client: c, Codec: codec.Bytes{}, AggregateRecords: true})
	require.NoError(t, err)
	defer big.FlushAndStopStreaming()
	require.ErrorIs(t, big.Put(make([]byte, 1<<20)), inskinesis.ErrRecordTooLarge)
}
