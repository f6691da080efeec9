package inskinesis_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/aggregation"
	jsoncodec "github.com/go-pkg/inskinesis/codec/json"
	"github.com/go-pkg/inskinesis/kinesistest"
)

// The end-to-end tests of KPL aggregation put typed records through a
// Stream with AggregateRecords on, read back every Kinesis record the server
// stored, deaggregate it and check that:
//
//   - exactly the records put come back, each once;
//   - each user record keeps its own partition key and explicit hash key;
//   - every user record of an aggregate routes into the hash key range of the
//     shard that stored the aggregate (the KCL drops the aggregate otherwise);
//   - no stored record exceeds AggregationMaxBytes (data plus outer partition
//     key) and no aggregate holds more than AggregationMaxCount records;
//   - an aggregate of one record is stored as a plain record;
//   - Kinesis stores far fewer records than were put.
//
// They run against kinesistest, against kinesalite when
// INSKINESIS_KINESALITE_ENDPOINT names one (with a SplitShard between two
// halves of the records), and hand the stored aggregates to the npm package
// aws-kinesis-agg when INSKINESIS_NODE_MODULES names a node_modules folder
// that holds it (see aggregation/interop_test.go).

// aggEvent is the record type of the aggregation tests. It carries the keys
// it is put with, so that a reader can check the keys it reads back.
type aggEvent struct {
	ID   int    `json:"id"`
	Key  string `json:"k"`           // partition key: a random UUID
	Hash string `json:"h,omitempty"` // explicit hash key, or "" for none
}

// aggEvents returns n events with random version-4 UUID keys drawn from seed;
// one in ehkEvery (none when 0) also has a random explicit hash key of at
// least 2^64 (so that aws-kinesis-agg, which builds its key tables with
// Object.keys, never sees a key that looks like an array index).
func aggEvents(n int, seed uint64, ehkEvery int) []aggEvent {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	uuids := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 0xA6})
	out := make([]aggEvent, n)
	for i := range out {
		id, err := uuid.NewRandomFromReader(uuids)
		if err != nil {
			panic(err) // ChaCha8 never fails to read
		}
		out[i] = aggEvent{ID: i, Key: id.String()}
		if ehkEvery > 0 && i%ehkEvery == 0 {
			hi := rng.Uint64() | 1 // at least 2^64
			h := new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64)
			h.Or(h, new(big.Int).SetUint64(rng.Uint64()))
			out[i].Hash = h.String()
		}
	}
	return out
}

// aggConfig is the stream configuration of the aggregation tests: the
// event's own keys, aggregation on.
func aggConfig(stream string, client inskinesis.PutRecordsAPI) inskinesis.Config[aggEvent] {
	return inskinesis.Config[aggEvent]{
		StreamName:       stream,
		Client:           client,
		AggregateRecords: true,
		Partitioner:      func(e aggEvent) string { return e.Key },
		ExplicitHashKey:  func(e aggEvent) string { return e.Hash },
	}
}

// aggPut puts events with PutAsync, stops the stream with
// FlushAndStopStreaming, and returns each event's Result by ID. It fails t
// when a record is not delivered or has other than one outcome.
func aggPut(t *testing.T, s *inskinesis.Stream[aggEvent], events []aggEvent) map[int]inskinesis.Result[aggEvent] {
	t.Helper()
	var mu sync.Mutex
	results := make(map[int]inskinesis.Result[aggEvent], len(events))
	dup := 0
	onResult := func(r inskinesis.Result[aggEvent]) {
		mu.Lock()
		defer mu.Unlock()
		if _, seen := results[r.Record.ID]; seen {
			dup++
		}
		results[r.Record.ID] = r
	}
	for _, e := range events {
		require.NoError(t, s.PutAsync(context.Background(), e, onResult))
	}
	s.FlushAndStopStreaming()
	mu.Lock()
	defer mu.Unlock()
	require.Zero(t, dup, "records with more than one outcome")
	require.Len(t, results, len(events), "records with an outcome")
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			if failed < 5 {
				t.Errorf("record %d not delivered: %v", r.Record.ID, r.Err)
			}
			failed++
		}
	}
	require.Zero(t, failed, "records not delivered")
	st := s.Stats()
	require.EqualValues(t, len(events), st.Delivered, "Stats().Delivered counts the records put")
	require.Zero(t, st.Failed, "Stats().Failed")
	return results
}

// aggStored is a Kinesis record as a server stored it.
type aggStored struct {
	ShardID         string
	SequenceNumber  string
	PartitionKey    string
	ExplicitHashKey string // "" when none, or when read with GetRecords
	Data            []byte
}

func (r aggStored) kinesisRecord() types.Record {
	return types.Record{
		Data:           r.Data,
		PartitionKey:   aws.String(r.PartitionKey),
		SequenceNumber: aws.String(r.SequenceNumber),
	}
}

// aggServerRecords returns what a kinesistest stream stores, with the hash key
// range of each of its shards.
func aggServerRecords(t *testing.T, srv *kinesistest.Server, stream string) ([]aggStored, map[string]types.HashKeyRange) {
	t.Helper()
	shards, err := srv.Shards(stream)
	require.NoError(t, err)
	ranges := make(map[string]types.HashKeyRange, len(shards))
	for _, sh := range shards {
		ranges[sh.ID] = types.HashKeyRange{
			StartingHashKey: aws.String(sh.StartingHashKey.String()),
			EndingHashKey:   aws.String(sh.EndingHashKey.String()),
		}
	}
	recs, err := srv.Records(stream)
	require.NoError(t, err)
	out := make([]aggStored, len(recs))
	for i, r := range recs {
		out[i] = aggStored{
			ShardID:         r.ShardID,
			SequenceNumber:  r.SequenceNumber,
			PartitionKey:    r.PartitionKey,
			ExplicitHashKey: r.ExplicitHashKey,
			Data:            r.Data,
		}
	}
	return out, ranges
}

// aggLimits are the bounds aggCheck holds the stored records to.
type aggLimits struct {
	maxBytes, maxCount int
	// ehkStored: the stored records carry the explicit hash key they were
	// put with (kinesistest); GetRecords does not return it.
	ehkStored bool
	// resharded: the stream was resharded while records were put. An
	// aggregate the stream packed on its old shard map may then land on a
	// child shard that does not own all its records; the stream resends
	// those records, and the KCL drops that aggregate. Such aggregates
	// are then not errors: aggCheck reads the stream as the KCL does,
	// without them, and reports their records in aggSummary.dropped.
	resharded bool
}

// aggSummary describes what aggCheck found.
type aggSummary struct {
	kinesisRecords int // records Kinesis stored
	aggregates     int // of which aggregates
	userRecords    int // user records read back
	largest        int // largest stored record, data plus partition key
	fullest        int // most user records in one aggregate
	// dropped counts, by event ID, the user records found in aggregates
	// the KCL would drop (only with aggLimits.resharded).
	dropped           map[int]int
	droppedAggregates int
}

// aggLocation is where a user record was read back from.
type aggLocation struct{ shardID, seq string }

// aggCheck deaggregates stored and checks it against want (see the top
// of this file). It returns what it found and where each event was found.
func aggCheck(t *testing.T, stored []aggStored, ranges map[string]types.HashKeyRange, want []aggEvent, lim aggLimits) (aggSummary, map[int]aggLocation) {
	t.Helper()
	reported := 0
	errorf := func(format string, args ...any) {
		t.Helper()
		if reported < 20 {
			t.Errorf(format, args...)
		} else if reported == 20 {
			t.Errorf("... further failures not shown")
		}
		reported++
	}
	byID := make(map[int]aggEvent, len(want))
	for _, e := range want {
		byID[e.ID] = e
	}
	seen := make(map[int]int, len(want))
	where := make(map[int]aggLocation, len(want))
	sum := aggSummary{dropped: map[int]int{}}
	for i, r := range stored {
		sum.kinesisRecords++
		size := len(r.Data) + len(r.PartitionKey)
		sum.largest = max(sum.largest, size)
		if size > lim.maxBytes {
			errorf("stored record %d (shard %s) holds %d bytes, data plus partition key, over AggregationMaxBytes %d", i, r.ShardID, size, lim.maxBytes)
		}
		users, err := aggregation.Deaggregate(r.kinesisRecord())
		if err != nil {
			errorf("stored record %d: %v", i, err)
			continue
		}
		aggregated := len(users) > 0 && users[0].Aggregated
		kclDrops := false
		if aggregated {
			sum.aggregates++
			sum.fullest = max(sum.fullest, len(users))
			if len(users) < 2 {
				errorf("stored record %d is an aggregate of %d user records; a lone record must be sent plain", i, len(users))
			}
			if len(users) > lim.maxCount {
				errorf("stored record %d aggregates %d user records, over AggregationMaxCount %d", i, len(users), lim.maxCount)
			}
			hr, ok := ranges[r.ShardID]
			if !ok {
				errorf("stored record %d is on shard %s, which the stream does not list", i, r.ShardID)
			} else if in, err := aggregation.InRange(users, hr); err != nil {
				errorf("stored record %d: %v", i, err)
			} else if !in && lim.resharded {
				kclDrops = true
				sum.droppedAggregates++
			} else if !in {
				errorf("stored record %d: an aggregate on shard %s [%s, %s] holds user records outside that range (err %v): the KCL would drop it; %s",
					i, r.ShardID, aws.ToString(hr.StartingHashKey), aws.ToString(hr.EndingHashKey), err, aggOutside(users, hr))
			}
		}
		for _, u := range users {
			var e aggEvent
			if err := json.Unmarshal(u.Data, &e); err != nil {
				errorf("stored record %d, user record %d: data %q does not decode: %v", i, u.SubSequenceNumber, u.Data, err)
				continue
			}
			w, known := byID[e.ID]
			switch {
			case !known || w != e:
				errorf("stored record %d, user record %d: read %+v, which was not put", i, u.SubSequenceNumber, e)
			case u.PartitionKey != e.Key:
				errorf("stored record %d, user record %d (id %d): partition key %q, want its own %q", i, u.SubSequenceNumber, e.ID, u.PartitionKey, e.Key)
			case aggregated && u.ExplicitHashKey != e.Hash:
				errorf("stored record %d, user record %d (id %d): explicit hash key %q, want %q", i, u.SubSequenceNumber, e.ID, u.ExplicitHashKey, e.Hash)
			case !aggregated && lim.ehkStored && r.ExplicitHashKey != e.Hash:
				errorf("stored plain record %d (id %d): explicit hash key %q, want %q", i, e.ID, r.ExplicitHashKey, e.Hash)
			}
			if kclDrops {
				sum.dropped[e.ID]++
				continue
			}
			sum.userRecords++
			seen[e.ID]++
			where[e.ID] = aggLocation{r.ShardID, r.SequenceNumber}
		}
	}
	missing, twice := 0, 0
	for _, e := range want {
		switch n := seen[e.ID]; {
		case n == 0:
			if missing < 5 {
				errorf("record %d was put but not read back", e.ID)
			}
			missing++
		case n > 1:
			if twice < 5 {
				errorf("record %d read back %d times", e.ID, n)
			}
			twice++
		}
	}
	if missing+twice > 0 {
		t.Errorf("%d of %d records missing, %d read more than once", missing, len(want), twice)
	}
	return sum, where
}

// aggOutside describes the first user record of an aggregate outside hr.
func aggOutside(users []aggregation.UserRecord, hr types.HashKeyRange) string {
	for _, u := range users {
		if ok, _ := aggregation.InRange([]aggregation.UserRecord{u}, hr); !ok {
			return fmt.Sprintf("user record %d of %d (key %q, explicit hash key %q, hash %s) is outside",
				u.SubSequenceNumber, len(users), u.PartitionKey, u.ExplicitHashKey, u.EffectiveHashKey())
		}
	}
	return "no single user record is outside"
}

// TestAggregationThroughKinesistest puts typed records with aggregation on
// into a 4-shard kinesistest stream and checks every stored record (see the
// top of this file), and that each record's Result names the shard and
// sequence number of the Kinesis record that carries it.
func TestAggregationThroughKinesistest(t *testing.T) {
	cases := []struct {
		name     string
		n        int
		maxBytes int // AggregationMaxBytes; 0 for the default
		maxCount int // AggregationMaxCount; 0 for the default
		// minRatio is the least number of user records per Kinesis
		// record on average.
		minRatio int
		// bytesBound: at least one aggregate was cut by the byte bound
		// (holds more than half of it); countBound: by the count bound.
		bytesBound, countBound bool
	}{
		{name: "defaults, 20,000 records", n: 20000, minRatio: 10},
		{name: "aggregates of at most 2 KiB", n: 5000, maxBytes: 2048, minRatio: 4, bytesBound: true},
		{name: "aggregates of at most 7 records", n: 5000, maxCount: 7, minRatio: 3, countBound: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := kinesistest.Start(t)
			require.NoError(t, srv.CreateStream("agg", 4))
			cfg := aggConfig("agg", srv.Client())
			cfg.AggregationMaxBytes = tc.maxBytes
			cfg.AggregationMaxCount = tc.maxCount
			cfg.MaxStreamBatchSize = 500
			cfg.MaxBatchSize = 5000
			s, err := inskinesis.NewKinesis(cfg)
			require.NoError(t, err)

			events := aggEvents(tc.n, 1, 5)
			results := aggPut(t, s, events)

			stored, ranges := aggServerRecords(t, srv, "agg")
			lim := aggLimits{maxBytes: inskinesis.DefaultAggregationMaxBytes, maxCount: inskinesis.DefaultAggregationMaxCount, ehkStored: true}
			if tc.maxBytes > 0 {
				lim.maxBytes = tc.maxBytes
			}
			if tc.maxCount > 0 {
				lim.maxCount = tc.maxCount
			}
			sum, where := aggCheck(t, stored, ranges, events, lim)
			t.Logf("%d user records in %d Kinesis records (%d aggregates); largest %d bytes, fullest %d records",
				sum.userRecords, sum.kinesisRecords, sum.aggregates, sum.largest, sum.fullest)

			require.Positive(t, sum.kinesisRecords)
			if ratio := tc.n / sum.kinesisRecords; ratio < tc.minRatio {
				t.Errorf("%d records were stored as %d Kinesis records, %d to one; want at least %d to one", tc.n, sum.kinesisRecords, ratio, tc.minRatio)
			}
			if tc.bytesBound && sum.largest <= lim.maxBytes/2 {
				t.Errorf("the largest stored record holds %d bytes: the byte bound %d was never approached", sum.largest, lim.maxBytes)
			}
			if tc.countBound && sum.fullest != lim.maxCount {
				t.Errorf("the fullest aggregate holds %d records: the count bound %d was never reached", sum.fullest, lim.maxCount)
			}

			wrong := 0
			for id, loc := range where {
				r := results[id]
				if r.ShardID != loc.shardID || r.SequenceNumber != loc.seq {
					if wrong < 5 {
						t.Errorf("record %d: Result says shard %s sequence %s; it was stored in shard %s sequence %s",
							id, r.ShardID, r.SequenceNumber, loc.shardID, loc.seq)
					}
					wrong++
				}
			}
			require.Zero(t, wrong, "records whose Result names another Kinesis record than the one that carries them")

			// Every shard got a share: the stream spread the records.
			perShard := map[string]int{}
			for _, r := range stored {
				perShard[r.ShardID]++
			}
			require.Len(t, perShard, 4, "shards that received records")
		})
	}
}

// TestAggregationLoneRecordIsPlain: a record that is alone when its shard's
// aggregate is sent goes to Kinesis as it was put, with its own partition
// key and explicit hash key, not as an aggregate of one.
func TestAggregationLoneRecordIsPlain(t *testing.T) {
	srv := kinesistest.Start(t)
	require.NoError(t, srv.CreateStream("lone", 4))
	s, err := inskinesis.NewKinesis(aggConfig("lone", srv.Client()))
	require.NoError(t, err)
	defer s.FlushAndStopStreaming()

	shards, err := srv.Shards("lone")
	require.NoError(t, err)
	// One record with an explicit hash key in each shard, flushed together:
	// each shard's aggregate holds one record.
	var events []aggEvent
	for i, sh := range shards {
		events = append(events, aggEvent{ID: i, Key: fmt.Sprintf("lone-%d", i), Hash: sh.EndingHashKey.String()})
	}
	// Then one record without, flushed alone.
	events = append(events, aggEvent{ID: len(shards), Key: "lone-without-hash-key"})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, e := range events[:len(shards)] {
		require.NoError(t, s.Put(e))
	}
	require.NoError(t, s.Flush(ctx))
	require.NoError(t, s.Put(events[len(shards)]))
	require.NoError(t, s.Flush(ctx))

	stored, ranges := aggServerRecords(t, srv, "lone")
	require.Len(t, stored, len(events), "one Kinesis record per record put")
	sum, _ := aggCheck(t, stored, ranges, events, aggLimits{maxBytes: inskinesis.DefaultAggregationMaxBytes, maxCount: 1, ehkStored: true})
	require.Zero(t, sum.aggregates, "aggregates stored")
	for _, r := range stored {
		_, aggregated, err := aggregation.DeaggregateData(r.Data)
		require.NoError(t, err)
		require.False(t, aggregated)
		var e aggEvent
		require.NoError(t, json.Unmarshal(r.Data, &e))
		require.Equal(t, events[e.ID], e)
		require.Equal(t, e.Key, r.PartitionKey, "the Kinesis record's partition key is the record's own")
		require.Equal(t, e.Hash, r.ExplicitHashKey, "the Kinesis record's explicit hash key is the record's own")
	}
}

// aggKPLRecord is a record as aggregation/testdata/kpl.js reads and writes it.
type aggKPLRecord struct {
	PartitionKey      string  `json:"partitionKey"`
	ExplicitHashKey   *string `json:"explicitHashKey,omitempty"`
	Data              string  `json:"data"`
	SubSequenceNumber *int    `json:"subSequenceNumber,omitempty"`
}

type aggKPLDeaggregated struct {
	Error   string         `json:"error"`
	Records []aggKPLRecord `json:"records"`
}

// TestAggregationInteropAwsKinesisAgg: the aggregates the stream stores,
// deaggregated by the npm package aws-kinesis-agg@4.2.8, give back the same
// user records, in the same order, as package aggregation reads. It needs
// node on PATH and INSKINESIS_NODE_MODULES naming a node_modules folder that
// holds aws-kinesis-agg (scripts/test.sh sets it).
func TestAggregationInteropAwsKinesisAgg(t *testing.T) {
	modules := os.Getenv("INSKINESIS_NODE_MODULES")
	if modules == "" {
		t.Skip("INSKINESIS_NODE_MODULES is not set: set it to a node_modules folder holding aws-kinesis-agg@4.2.8 to run this test")
	}
	if _, err := os.Stat(filepath.Join(modules, "aws-kinesis-agg", "package.json")); err != nil {
		t.Skipf("INSKINESIS_NODE_MODULES=%s does not hold aws-kinesis-agg: %v", modules, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skipf("node is not on PATH: %v", err)
	}

	srv := kinesistest.Start(t)
	require.NoError(t, srv.CreateStream("interop", 2))
	cfg := aggConfig("interop", srv.Client())
	cfg.MaxBatchSize = 3000
	s, err := inskinesis.NewKinesis(cfg)
	require.NoError(t, err)
	events := aggEvents(3000, 2, 4)
	aggPut(t, s, events)

	stored, ranges := aggServerRecords(t, srv, "interop")
	sum, _ := aggCheck(t, stored, ranges, events, aggLimits{maxBytes: inskinesis.DefaultAggregationMaxBytes, maxCount: inskinesis.DefaultAggregationMaxCount, ehkStored: true})
	require.Positive(t, sum.aggregates)

	var input []aggKPLRecord
	var ours [][]aggregation.UserRecord
	for _, r := range stored {
		users, err := aggregation.Deaggregate(r.kinesisRecord())
		require.NoError(t, err)
		if !users[0].Aggregated {
			continue
		}
		input = append(input, aggKPLRecord{PartitionKey: r.PartitionKey, Data: base64.StdEncoding.EncodeToString(r.Data)})
		ours = append(ours, users)
	}
	in, err := json.Marshal(input)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("aggregation", "testdata", "kpl.js"), "deaggregate")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node kpl.js deaggregate: %s", stderr.String())
	var theirs []aggKPLDeaggregated
	require.NoError(t, json.Unmarshal(out, &theirs))
	require.Len(t, theirs, len(input), "aws-kinesis-agg results")

	total := 0
	for i, got := range theirs {
		require.Empty(t, got.Error, "aws-kinesis-agg failed on aggregate %d", i)
		want := ours[i]
		require.Len(t, got.Records, len(want), "aws-kinesis-agg read aggregate %d", i)
		for j, g := range got.Records {
			data, err := base64.StdEncoding.DecodeString(g.Data)
			require.NoError(t, err)
			require.Equal(t, want[j].PartitionKey, g.PartitionKey, "aggregate %d, user record %d: partition key", i, j)
			require.Equal(t, want[j].Data, data, "aggregate %d, user record %d: data", i, j)
			require.NotNil(t, g.SubSequenceNumber, "aggregate %d, user record %d: sub-sequence number", i, j)
			require.Equal(t, j, *g.SubSequenceNumber, "aggregate %d, user record %d: sub-sequence number", i, j)
			// aws-kinesis-agg reports the first key of the explicit hash key
			// table for a record that has none (see
			// aggregation/interop_test.go), so only the records that have
			// one are compared.
			if want[j].ExplicitHashKey != "" {
				require.NotNil(t, g.ExplicitHashKey, "aggregate %d, user record %d: explicit hash key", i, j)
				require.Equal(t, want[j].ExplicitHashKey, *g.ExplicitHashKey, "aggregate %d, user record %d: explicit hash key", i, j)
			}
			total++
		}
	}
	t.Logf("aws-kinesis-agg read %d user records from %d aggregates", total, len(theirs))
}

// aggKinesaliteEnv names the variable holding a kinesalite endpoint such as
// http://127.0.0.1:4567.
const aggKinesaliteEnv = "INSKINESIS_KINESALITE_ENDPOINT"

// aggKinesalite returns a client of the kinesalite server named by
// INSKINESIS_KINESALITE_ENDPOINT, and skips t when there is none.
func aggKinesalite(t *testing.T) *kinesis.Client {
	t.Helper()
	ep := os.Getenv(aggKinesaliteEnv)
	if ep == "" {
		t.Skipf("%s is not set: there is no kinesalite server to run against (scripts/test.sh starts one)", aggKinesaliteEnv)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ep),
		Credentials:  credentials.NewStaticCredentialsProvider("x", "y", ""),
		HTTPClient:   &http.Client{Transport: tr},
	})
}

// aggSDKStream creates a stream of the given shards under a fresh name
// through the SDK, waits until it is ACTIVE, and deletes it when t ends
// (kinesalite keeps every record in memory).
func aggSDKStream(t *testing.T, ctx context.Context, c *kinesis.Client, shards int) string {
	t.Helper()
	name := "inskinesis-agg-" + uuid.NewString()[:8]
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = c.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	aggWaitStream(t, ctx, c, name, shards)
	return name
}

// aggWaitStream polls DescribeStreamSummary and ListShards, for at most 10 s,
// until the stream is ACTIVE with `open` open shards: kinesalite creates and
// reshards asynchronously.
func aggWaitStream(t *testing.T, ctx context.Context, c *kinesis.Client, name string, open int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := aggOpenShards(ctx, c, name)
		if err == nil && got == open {
			sum, err2 := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
			if err = err2; err == nil && sum.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not ACTIVE with %d open shards after 10 s (%d open, last error %v)", name, open, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// aggOpenShards counts the shards of a stream that have no ending sequence
// number.
func aggOpenShards(ctx context.Context, c *kinesis.Client, name string) (int, error) {
	out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sh := range out.Shards {
		if sh.SequenceNumberRange == nil || sh.SequenceNumberRange.EndingSequenceNumber == nil {
			n++
		}
	}
	return n, nil
}

// aggReadStream reads every record of every shard of a stream, open or closed,
// through GetShardIterator (TRIM_HORIZON) and GetRecords, as a consumer
// would, with each shard's hash key range.
func aggReadStream(t *testing.T, ctx context.Context, c *kinesis.Client, name string) ([]aggStored, map[string]types.HashKeyRange) {
	t.Helper()
	// Without a ShardFilter, ListShards lists closed shards too.
	out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	require.NoError(t, err)
	ranges := make(map[string]types.HashKeyRange, len(out.Shards))
	var recs []aggStored
	for _, sh := range out.Shards {
		id := aws.ToString(sh.ShardId)
		ranges[id] = *sh.HashKeyRange
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(name), ShardId: aws.String(id), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		require.NoError(t, err)
		iter := it.ShardIterator
		for pages := 0; iter != nil; pages++ {
			require.Less(t, pages, 1000, "GetRecords pages of shard %s", id)
			page, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			require.NoError(t, err)
			for _, r := range page.Records {
				recs = append(recs, aggStored{
					ShardID:        id,
					SequenceNumber: aws.ToString(r.SequenceNumber),
					PartitionKey:   aws.ToString(r.PartitionKey),
					Data:           r.Data,
				})
			}
			if len(page.Records) == 0 {
				break // kinesalite has nothing more behind an empty page
			}
			iter = page.NextShardIterator
		}
	}
	return recs, ranges
}

// TestAggregationKinesalite runs the stream with aggregation against
// kinesalite and reads everything back through GetRecords on every shard,
// checking the KCL rule for each aggregate on the shard it was read from
// and that every record arrived once. TestAggregationSplitShard runs
// against kinesalite too.
func TestAggregationKinesalite(t *testing.T) {
	c := aggKinesalite(t)
	lim := aggLimits{maxBytes: inskinesis.DefaultAggregationMaxBytes, maxCount: inskinesis.DefaultAggregationMaxCount}

	t.Run("three shards, 5,000 records", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		name := aggSDKStream(t, ctx, c, 3)
		s, err := inskinesis.NewKinesis(aggConfig(name, c))
		require.NoError(t, err)
		events := aggEvents(5000, 3, 5)
		aggPut(t, s, events)

		stored, ranges := aggReadStream(t, ctx, c, name)
		sum, _ := aggCheck(t, stored, ranges, events, lim)
		t.Logf("%d user records in %d Kinesis records (%d aggregates)", sum.userRecords, sum.kinesisRecords, sum.aggregates)
		require.Positive(t, sum.aggregates)
		require.Less(t, sum.kinesisRecords*10, len(events), "Kinesis records, against records put")
	})

}

// TestAggregationSplitShard puts records with aggregation on in two halves,
// and between them splits one of the stream's two shards through the SDK;
// then it reads every shard, closed parent included, through
// GetShardIterator and GetRecords, against kinesistest and, when
// INSKINESIS_KINESALITE_ENDPOINT names one, kinesalite.
//
// The stream's shard map is stale when the second half starts: no producer
// can know of a reshard before it writes. The aggregates it then packs for
// the parent's range land on one child and may hold records of the other;
// the KCL drops such an aggregate. The stream must notice (the shard
// Kinesis reports is not the one it predicted), read the map again, send
// those records again in aggregates of the right children, and mark them
// MaybeDuplicate. So the stream is read as the KCL reads it: without the
// aggregates it drops, every record must be there exactly once, and every
// record of a dropped aggregate must be one put after the split and
// reported MaybeDuplicate. Each record's Result must name where the KCL
// reads it.
func TestAggregationSplitShard(t *testing.T) {
	t.Run("kinesistest", func(t *testing.T) {
		srv := kinesistest.Start(t)
		aggSplitShard(t, srv.Client())
	})
	t.Run("kinesalite", func(t *testing.T) {
		aggSplitShard(t, aggKinesalite(t))
	})
}

// splitFirstShard splits the first shard of stream in the middle of its
// hash key range, and returns its ID and how many shards the stream listed
// before.
func splitFirstShard(t *testing.T, ctx context.Context, c *kinesis.Client, stream string) (parentID string, listed int) {
	t.Helper()
	out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	require.NoError(t, err)
	require.NotEmpty(t, out.Shards)
	parent := out.Shards[0]
	lo, ok1 := new(big.Int).SetString(aws.ToString(parent.HashKeyRange.StartingHashKey), 10)
	hi, ok2 := new(big.Int).SetString(aws.ToString(parent.HashKeyRange.EndingHashKey), 10)
	require.True(t, ok1 && ok2, "hash key range %+v", parent.HashKeyRange)
	mid := new(big.Int).Add(lo, hi)
	mid.Rsh(mid, 1)
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{
		StreamName:         aws.String(stream),
		ShardToSplit:       parent.ShardId,
		NewStartingHashKey: aws.String(mid.String()),
	})
	require.NoError(t, err)
	return aws.ToString(parent.ShardId), len(out.Shards)
}

func aggSplitShard(t *testing.T, c *kinesis.Client) {
	lim := aggLimits{maxBytes: inskinesis.DefaultAggregationMaxBytes, maxCount: inskinesis.DefaultAggregationMaxCount, resharded: true}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	name := aggSDKStream(t, ctx, c, 2)
	s, err := inskinesis.NewKinesis(aggConfig(name, c))
	require.NoError(t, err)
	defer s.FlushAndStopStreaming()
	events := aggEvents(6000, 4, 5)
	half := len(events) / 2

	var mu sync.Mutex
	results := make(map[int]inskinesis.Result[aggEvent], len(events))
	onResult := func(r inskinesis.Result[aggEvent]) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := results[r.Record.ID]; dup {
			t.Errorf("record %d has a second outcome", r.Record.ID)
		}
		results[r.Record.ID] = r
	}
	for _, e := range events[:half] {
		require.NoError(t, s.PutAsync(ctx, e, onResult))
	}
	require.NoError(t, s.Flush(ctx))

	parentID, listed := splitFirstShard(t, ctx, c, name)
	require.Equal(t, 2, listed, "shards before the split")
	aggWaitStream(t, ctx, c, name, 3)

	for _, e := range events[half:] {
		require.NoError(t, s.PutAsync(ctx, e, onResult))
	}
	// FlushAndStopStreaming with a deadline, so that a stream that
	// never settles fails the test instead of hanging it.
	stop, cancelStop := context.WithTimeout(ctx, 30*time.Second)
	defer cancelStop()
	require.NoError(t, s.Close(stop), "stopping the stream after the split")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, results, len(events), "records with an outcome")
	for id, r := range results {
		require.NoError(t, r.Err, "record %d", id)
	}
	require.EqualValues(t, len(events), s.Stats().Delivered, "Stats().Delivered counts each record once")

	stored, ranges := aggReadStream(t, ctx, c, name)
	require.Len(t, ranges, 4, "shards: two at creation, two children of the split")
	sum, where := aggCheck(t, stored, ranges, events, lim)
	t.Logf("%d user records in %d Kinesis records (%d aggregates); %d aggregates with %d records landed on a child that does not own all of them, and were sent again",
		sum.userRecords, sum.kinesisRecords, sum.aggregates, sum.droppedAggregates, len(sum.dropped))
	require.Positive(t, sum.aggregates)

	for id, n := range sum.dropped {
		require.GreaterOrEqual(t, id, half, "record %d, put before the split, is in an aggregate the KCL drops", id)
		require.Equal(t, 1, n, "record %d is in %d aggregates the KCL drops", id, n)
		require.True(t, results[id].MaybeDuplicate, "record %d was written in an aggregate the KCL drops, then again; its Result must say MaybeDuplicate", id)
	}
	for _, e := range events {
		loc, ok := where[e.ID]
		if !ok {
			continue // aggCheck reported it
		}
		r := results[e.ID]
		require.Equal(t, loc.shardID, r.ShardID, "record %d: Result.ShardID, against where the KCL reads it", e.ID)
		require.Equal(t, loc.seq, r.SequenceNumber, "record %d: Result.SequenceNumber, against where the KCL reads it", e.ID)
		// The second half went to the children, not the closed parent.
		if e.ID >= half {
			require.NotEqual(t, parentID, loc.shardID, "record %d, put after the split, was read from the closed parent", e.ID)
		}
	}
}

// TestShardRateLimitAvoidsThrottling sends the same burst of records to one
// kinesistest shard enforcing AWS's limits (1000 records/s, 1 MiB/s, each a
// token bucket holding one second) with and without ShardRateLimit 100.
// Without it, records are sent as fast as the stream can, once each (a
// ThrottleTTL of 1 ns fails a record at its first throttle), so all but
// about the first second's worth are throttled. With
// it, the stream paces the shard at the shard's own rates, so the server
// throttles few records, if any: a request may arrive a little earlier than
// it left relative to the one before it, so a record now and then can find
// the server's bucket a fraction of a token short. Both counts are checked
// with wide margins, on the real clock: the stream has no clock to inject.
func TestShardRateLimitAvoidsThrottling(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 2 s of real time")
	}
	const n = 2500
	type small struct {
		ID int `json:"id"`
	}
	records := make([]small, n)
	for i := range records {
		records[i] = small{ID: i}
	}
	run := func(t *testing.T, rateLimit, retries int, throttleTTL time.Duration) (throttled int64, st inskinesis.Stats, took time.Duration) {
		srv := kinesistest.Start(t, kinesistest.WithShardLimits(kinesistest.AWSShardLimits()))
		require.NoError(t, srv.CreateStream("paced", 1))
		s, err := inskinesis.NewKinesis(inskinesis.Config[small]{
			StreamName:         "paced",
			Client:             srv.Client(),
			Codec:              jsoncodec.Codec[small]{},
			ShardRateLimit:     rateLimit,
			MaxStreamBatchSize: 500,
			MaxBatchSize:       n,
			RetryCount:         retries,
			ThrottleTTL:        throttleTTL,
			RetryInterval:      10 * time.Millisecond,
			MaxRetryInterval:   100 * time.Millisecond,
		})
		require.NoError(t, err)
		start := time.Now()
		for _, r := range records {
			require.NoError(t, s.Put(r))
		}
		s.FlushAndStopStreaming()
		return srv.Stats().RecordsThrottled, s.Stats(), time.Since(start)
	}

	var without int64
	t.Run("without ShardRateLimit", func(t *testing.T) {
		throttled, st, took := run(t, 0, -1, time.Nanosecond)
		t.Logf("took %v; server throttled %d of %d records; stream delivered %d, failed %d", took, throttled, n, st.Delivered, st.Failed)
		// The shard takes 1000 records at once and 1000 more a second:
		// unless sending 2500 records took over a second, at least 500
		// are throttled.
		require.GreaterOrEqual(t, throttled, int64(500), "records the server throttled")
		require.Equal(t, throttled, st.Failed, "each throttled record failed, with a ThrottleTTL of 1 ns")
		without = throttled
	})
	t.Run("with ShardRateLimit 100", func(t *testing.T) {
		if without == 0 {
			t.Skip("the run without a rate limit failed")
		}
		throttled, st, took := run(t, 100, 10, 0)
		t.Logf("took %v; server throttled %d of %d records; stream delivered %d, failed %d", took, throttled, n, st.Delivered, st.Failed)
		require.EqualValues(t, n, st.Delivered, "records delivered")
		require.LessOrEqual(t, throttled, int64(n/20), "records the server throttled: at most 5 %%")
		require.Less(t, throttled*10, without, "records throttled with the limit, against without")
		// 2500 records at 1000 a second with a burst of 1000 take at least
		// 1.5 s: the limit did hold the records back.
		require.GreaterOrEqual(t, took, 1400*time.Millisecond, "time to deliver %d records at 1000/s", n)
	})
}

// aggPutOnly is a client without ListShards.
type aggPutOnly struct{ inskinesis.PutRecordsAPI }

// TestAggregationConfigErrors: NewKinesis refuses aggregation settings it
// cannot honour with a *ConfigError naming the field.
func TestAggregationConfigErrors(t *testing.T) {
	srv := kinesistest.Start(t)
	require.NoError(t, srv.CreateStream("s", 1))
	full := srv.Client()
	_, err := full.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("big"), ShardCount: aws.Int32(1), MaxRecordSizeInKiB: aws.Int32(2048)})
	require.NoError(t, err)
	cases := []struct {
		name  string
		cfg   inskinesis.Config[aggEvent]
		field string // "" when the config is valid
	}{
		{"AggregateRecords with a client without ListShards", inskinesis.Config[aggEvent]{StreamName: "s", Client: aggPutOnly{full}, AggregateRecords: true}, "AggregateRecords"},
		{"ShardRateLimit with a client without ListShards", inskinesis.Config[aggEvent]{StreamName: "s", Client: aggPutOnly{full}, ShardRateLimit: 150}, "ShardRateLimit"},
		{"both with a client without ListShards names AggregateRecords", inskinesis.Config[aggEvent]{StreamName: "s", Client: aggPutOnly{full}, AggregateRecords: true, ShardRateLimit: 150}, "AggregateRecords"},
		{"AggregationMaxBytes over the default MaxRecordSize", inskinesis.Config[aggEvent]{StreamName: "s", Client: full, AggregateRecords: true, AggregationMaxBytes: inskinesis.DefaultMaxRecordSize + 1}, "AggregationMaxBytes"},
		{"AggregationMaxBytes over a set MaxRecordSize", inskinesis.Config[aggEvent]{StreamName: "s", Client: full, AggregateRecords: true, MaxRecordSize: 100 << 10, AggregationMaxBytes: 100<<10 + 1}, "AggregationMaxBytes"},
		{"AggregationMaxBytes negative", inskinesis.Config[aggEvent]{StreamName: "s", Client: full, AggregateRecords: true, AggregationMaxBytes: -1}, "AggregationMaxBytes"},
		{"AggregationMaxBytes too small for the framing", inskinesis.Config[aggEvent]{StreamName: "s", Client: full, AggregateRecords: true, AggregationMaxBytes: 20}, "AggregationMaxBytes"},
		{"AggregationMaxCount negative", inskinesis.Config[aggEvent]{StreamName: "s", Client: full, AggregateRecords: true, AggregationMaxCount: -1}, "AggregationMaxCount"},
		{"ShardRateLimit negative", inskinesis.Config[aggEvent]{StreamName: "s", Client: full, ShardRateLimit: -1}, "ShardRateLimit"},
		{"ShardRateLimit negative with aggregation", inskinesis.Config[aggEvent]{StreamName: "s", Client: full, AggregateRecords: true, ShardRateLimit: -1}, "ShardRateLimit"},
		{"AggregationMaxCount negative with AggregationMaxBytes set", inskinesis.Config[aggEvent]{StreamName: "s", Client: full, AggregateRecords: true, AggregationMaxBytes: 4096, AggregationMaxCount: -1}, "AggregationMaxCount"},
		{"AggregationMaxBytes equal to MaxRecordSize is valid", inskinesis.Config[aggEvent]{StreamName: "big", Client: full, AggregateRecords: true, MaxRecordSize: 2 << 20, AggregationMaxBytes: 2 << 20}, ""},
		{"MaxRecordSize above the stream's", inskinesis.Config[aggEvent]{StreamName: "s", Client: full, AggregateRecords: true, MaxRecordSize: 2 << 20}, "MaxRecordSize"},
		{"a client without ListShards is fine with neither", inskinesis.Config[aggEvent]{StreamName: "s", Client: aggPutOnly{full}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := inskinesis.NewKinesis(tc.cfg)
			if s != nil {
				t.Cleanup(func() { _ = s.Close(context.Background()) })
			}
			if tc.field == "" {
				require.NoError(t, err)
				require.NoError(t, s.Close(context.Background()))
				return
			}
			require.Error(t, err, "NewKinesis accepted a config with an invalid %s", tc.field)
			require.True(t, s == nil, "NewKinesis returned a stream with its error")
			require.ErrorIs(t, err, inskinesis.ErrInvalidConfig)
			var ce *inskinesis.ConfigError
			require.True(t, errors.As(err, &ce), "error %T %v is a *ConfigError", err, err)
			require.Equal(t, tc.field, ce.Field, "ConfigError.Field (%v)", err)
		})
	}
}
