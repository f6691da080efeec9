package inskinesis_test

// Integration tests against kinesalite, a Kinesis server on Node.js, through
// the real aws-sdk-go-v2 client. scripts/test.sh starts a kinesalite and
// sets INSKINESIS_KINESALITE_ENDPOINT; without it these tests skip.
//
// kinesalite differs from Kinesis in ways that shape these tests: it never
// throttles and never fails single records (retry paths are tested against
// fakes and kinesistest instead), it counts only the data, not the
// partition key, in the 1 MiB record limit, and it refuses request bodies
// over 7 MiB with a bare HTTP 413, so the volumes and batches here stay
// modest. It also writes the records of one PutRecords call to a shard in
// request order, which Kinesis does not promise.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	protobuf "google.golang.org/protobuf/proto"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/codec/json"
	"github.com/go-pkg/inskinesis/codec/msgpack"
	protocodec "github.com/go-pkg/inskinesis/codec/proto"
	"github.com/go-pkg/inskinesis/internal/testpb"
	"github.com/go-pkg/inskinesis/partition"
)

// liteOrder is the typed record of the integration tests.
type liteOrder struct {
	Seq    int       `json:"seq" msgpack:"seq"` // the Put index
	ID     string    `json:"id" msgpack:"id"`
	User   string    `json:"user" msgpack:"user"`
	Amount int64     `json:"amount_cents" msgpack:"amount_cents"`
	At     time.Time `json:"at" msgpack:"at"`
	Tags   []string  `json:"tags" msgpack:"tags"`
	Shard  int       `json:"shard" msgpack:"shard"` // target shard, for the ExplicitHashKey test
}

var liteEpoch = time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)

func liteNewOrder(i int) liteOrder {
	return liteOrder{
		Seq:    i,
		ID:     fmt.Sprintf("ord-%06d", i),
		User:   fmt.Sprintf("user-%02d", i%37),
		Amount: int64(100 + i*7%100000),
		At:     liteEpoch.Add(time.Duration(i) * time.Millisecond),
		Tags:   []string{"web", "eu", strconv.Itoa(i % 5)},
	}
}

func liteOrderEqual(a, b liteOrder) bool {
	return a.At.Equal(b.At) && a.Seq == b.Seq && a.ID == b.ID && a.User == b.User &&
		a.Amount == b.Amount && slices.Equal(a.Tags, b.Tags) && a.Shard == b.Shard
}

func liteNewEvent(i int) *testpb.Event {
	return &testpb.Event{
		Id:         strconv.Itoa(i),
		User:       fmt.Sprintf("user-%02d", i%37),
		AtUnixNano: liteEpoch.Add(time.Duration(i) * time.Millisecond).UnixNano(),
		Payload:    []byte(fmt.Sprintf("payload-%d", i)),
		Tags:       []string{"web", strconv.Itoa(i % 5)},
		Attrs:      map[string]string{"source": "test", "n": strconv.Itoa(i)},
	}
}

// liteScenario describes one record type and codec for the round-trip tests.
type liteScenario[T any] struct {
	codec  inskinesis.Codec[T]
	record func(i int) T
	index  func(T) int
	user   func(T) string
	equal  func(a, b T) bool
}

// litePartitioner is a partitioner and what the keys it gives look like.
type litePartitioner[T any] struct {
	name        string
	partitioner inskinesis.Partitioner[T]
	// checkKey fails when key is not what the partitioner gives for v.
	checkKey func(t *testing.T, key string, v T)
	// perRecord says every record gets a key of its own.
	perRecord bool
}

func litePartitioners[T any](user func(T) string) []litePartitioner[T] {
	return []litePartitioner[T]{
		{
			name:        "uuid",
			partitioner: partition.UUID[T](),
			checkKey: func(t *testing.T, key string, _ T) {
				_, err := uuid.Parse(key)
				assert.NoError(t, err, "key %q", key)
			},
			perRecord: true,
		},
		{
			name:        "static",
			partitioner: partition.Static[T]("all-orders"),
			checkKey: func(t *testing.T, key string, _ T) {
				assert.Equal(t, "all-orders", key)
			},
		},
		{
			name:        "field",
			partitioner: inskinesis.Partitioner[T](user),
			checkKey: func(t *testing.T, key string, v T) {
				assert.Equal(t, user(v), key)
			},
		},
	}
}

// TestKinesaliteRoundTrip puts a few thousand typed records through each
// codec and each kind of partitioner, reads every shard back, and checks that
// exactly the records put arrived, each once, on the shard owning the MD5 of
// its partition key, and, with one call in flight, in Put order per key.
func TestKinesaliteRoundTrip(t *testing.T) {
	client := liteClient(t)
	const n = 2000
	t.Run("json", func(t *testing.T) {
		liteRoundTrips(t, client, n, liteScenario[liteOrder]{
			codec: json.Codec[liteOrder]{}, record: liteNewOrder, equal: liteOrderEqual,
			index: func(o liteOrder) int { return o.Seq }, user: func(o liteOrder) string { return o.User },
		})
	})
	t.Run("msgpack", func(t *testing.T) {
		liteRoundTrips(t, client, n, liteScenario[liteOrder]{
			codec: msgpack.Codec[liteOrder]{}, record: liteNewOrder, equal: liteOrderEqual,
			index: func(o liteOrder) int { return o.Seq }, user: func(o liteOrder) string { return o.User },
		})
	})
	t.Run("proto", func(t *testing.T) {
		liteRoundTrips(t, client, n, liteScenario[*testpb.Event]{
			codec: protocodec.Codec[*testpb.Event]{}, record: liteNewEvent,
			equal: func(a, b *testpb.Event) bool { return protobuf.Equal(a, b) },
			index: func(e *testpb.Event) int {
				i, err := strconv.Atoi(e.GetId())
				if err != nil {
					return -1
				}
				return i
			},
			user: func(e *testpb.Event) string { return e.GetUser() },
		})
	})
}

func liteRoundTrips[T any](t *testing.T, client *kinesis.Client, n int, sc liteScenario[T]) {
	for _, pc := range litePartitioners(sc.user) {
		t.Run(pc.name, func(t *testing.T) {
			stream, shards := liteCreateStream(t, client, 4)
			s, err := inskinesis.NewKinesis(inskinesis.Config[T]{
				StreamName:  stream,
				Client:      client,
				Codec:       sc.codec,
				Partitioner: pc.partitioner,
				MaxGroup:    1,
			})
			require.NoError(t, err)
			for i := range n {
				require.NoError(t, s.Put(sc.record(i)), "Put %d", i)
			}
			s.FlushAndStopStreaming()
			require.Empty(t, litePutErrors(t, s), "records reported as not delivered")

			got := liteReadStream(t, client, stream)
			liteVerify(t, sc, pc, shards, n, got)

			st := s.Stats()
			assert.Equal(t, int64(n), st.Delivered, "Stats.Delivered")
			assert.Zero(t, st.Failed, "Stats.Failed")
			assert.Zero(t, st.Retried, "Stats.Retried: kinesalite never fails a record")
			var bytes int64
			for _, r := range got {
				bytes += int64(len(r.Data) + len(r.PartitionKey))
			}
			assert.Equal(t, bytes, st.DeliveredBytes, "Stats.DeliveredBytes counts data plus keys")
			assert.GreaterOrEqual(t, st.Requests, int64(n/inskinesis.DefaultMaxStreamBatchSize), "Stats.Requests")
			assert.Zero(t, st.BufferedRecords, "Stats.BufferedRecords after shutdown")
		})
	}
}

// liteVerify checks the records read back against the n records put:
// each decodes to the record put at its index, arrives once, sits on the
// shard owning its key's hash, carries the key its partitioner gives, and
// the records of one key have increasing sequence numbers in Put order.
func liteVerify[T any](t *testing.T, sc liteScenario[T], pc litePartitioner[T], shards []types.Shard, n int, got []liteRecord) {
	t.Helper()
	ranges := liteShardRanges(t, shards)
	seen := make([]int, n)
	type placed struct {
		index int
		seq   *big.Int
	}
	byKey := make(map[string][]placed)
	keys := make(map[string]int)
	shardsUsed := make(map[string]int)
	for _, r := range got {
		v, err := sc.codec.Decode(r.Data)
		if !assert.NoError(t, err, "decode record %s/%s", r.ShardID, r.SequenceNumber) {
			continue
		}
		i := sc.index(v)
		if !assert.True(t, i >= 0 && i < n, "record with index %d was never put", i) {
			continue
		}
		seen[i]++
		assert.True(t, sc.equal(sc.record(i), v), "record %d changed on the way: got %v", i, v)
		pc.checkKey(t, r.PartitionKey, v)
		rg, ok := ranges[r.ShardID]
		if assert.True(t, ok, "record %d on unknown shard %s", i, r.ShardID) {
			assert.True(t, rg.contains(liteHashKey(r.PartitionKey)),
				"record %d with key %q (hash key %s) is on %s [%s, %s]",
				i, r.PartitionKey, liteHashKey(r.PartitionKey), r.ShardID, rg.start, rg.end)
		}
		byKey[r.PartitionKey] = append(byKey[r.PartitionKey], placed{i, liteSeqNumber(t, r.SequenceNumber)})
		keys[r.PartitionKey]++
		shardsUsed[r.ShardID]++
	}
	var missing, dups []int
	for i, c := range seen {
		switch {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			dups = append(dups, i)
		}
	}
	assert.Empty(t, missing, "records put but not read back")
	assert.Empty(t, dups, "records read back more than once")
	assert.Len(t, got, n, "records read back")

	if pc.perRecord {
		assert.Len(t, keys, n, "every record has a key of its own")
		assert.Len(t, shardsUsed, len(shards), "random keys spread over every shard")
	}
	for key, ps := range byKey {
		slices.SortFunc(ps, func(a, b placed) int { return a.seq.Cmp(b.seq) })
		for j := 1; j < len(ps); j++ {
			if !assert.Less(t, ps[j-1].index, ps[j].index,
				"key %q: record %d was written after record %d", key, ps[j-1].index, ps[j].index) {
				break
			}
		}
	}
}

// TestKinesaliteConcurrentCallsDeliverExactlyOnce sends small batches with
// four calls in flight from four putting goroutines, and checks every record
// arrives exactly once, where its callback said it did.
func TestKinesaliteConcurrentCallsDeliverExactlyOnce(t *testing.T) {
	client := liteClient(t)
	stream, shards := liteCreateStream(t, client, 4)
	const n, putters = 3000, 4
	s, err := inskinesis.NewKinesis(inskinesis.Config[liteOrder]{
		StreamName:         stream,
		Client:             client,
		Codec:              msgpack.Codec[liteOrder]{},
		MaxGroup:           4,
		MaxStreamBatchSize: 7,
		MaxBatchSize:       64,
	})
	require.NoError(t, err)

	type outcome struct {
		calls   int
		shardID string
		seq     string
		err     error
	}
	var mu sync.Mutex
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	for p := range putters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < n; i += putters {
				err := s.PutAsync(context.Background(), liteNewOrder(i), func(r inskinesis.Result[liteOrder]) {
					mu.Lock()
					defer mu.Unlock()
					o := &outcomes[r.Record.Seq]
					o.calls++
					o.shardID, o.seq, o.err = r.ShardID, r.SequenceNumber, r.Err
				})
				if err != nil {
					t.Errorf("PutAsync %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.FlushAndStopStreaming()
	require.Empty(t, litePutErrors(t, s))

	got := liteReadStream(t, client, stream)
	seen := make([]int, n)
	ranges := liteShardRanges(t, shards)
	for _, r := range got {
		v, err := msgpack.Codec[liteOrder]{}.Decode(r.Data)
		require.NoError(t, err)
		require.True(t, v.Seq >= 0 && v.Seq < n, "record %d was never put", v.Seq)
		seen[v.Seq]++
		o := outcomes[v.Seq]
		assert.Equal(t, r.ShardID, o.shardID, "record %d: callback's shard", v.Seq)
		assert.Equal(t, r.SequenceNumber, o.seq, "record %d: callback's sequence number", v.Seq)
		assert.True(t, ranges[r.ShardID].contains(liteHashKey(r.PartitionKey)), "record %d on the wrong shard", v.Seq)
	}
	for i := range n {
		assert.Equal(t, 1, seen[i], "record %d read back %d times", i, seen[i])
		assert.Equal(t, 1, outcomes[i].calls, "record %d callback calls", i)
		assert.NoError(t, outcomes[i].err, "record %d outcome", i)
	}
	st := s.Stats()
	assert.Equal(t, int64(n), st.Delivered)
	assert.GreaterOrEqual(t, st.Requests, int64((n+6)/7), "no call holds more than 7 records")
}

// TestKinesaliteOrderByKeyWithConcurrentCalls checks that OrderByKey keeps
// each key's records in Put order with four calls in flight.
func TestKinesaliteOrderByKeyWithConcurrentCalls(t *testing.T) {
	client := liteClient(t)
	stream, shards := liteCreateStream(t, client, 4)
	const n = 1500
	sc := liteScenario[liteOrder]{
		codec: json.Codec[liteOrder]{}, record: liteNewOrder, equal: liteOrderEqual,
		index: func(o liteOrder) int { return o.Seq }, user: func(o liteOrder) string { return o.User },
	}
	pc := litePartitioners(sc.user)[2] // by user
	require.Equal(t, "field", pc.name)
	s, err := inskinesis.NewKinesis(inskinesis.Config[liteOrder]{
		StreamName:         stream,
		Client:             client,
		Partitioner:        pc.partitioner,
		MaxGroup:           4,
		MaxStreamBatchSize: 10,
		OrderByKey:         true,
	})
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, s.Put(liteNewOrder(i)))
	}
	s.FlushAndStopStreaming()
	require.Empty(t, litePutErrors(t, s))
	liteVerify(t, sc, pc, shards, n, liteReadStream(t, client, stream))
}

// TestKinesaliteOversizedRecord checks that Put refuses a record whose data
// plus partition key exceed 1 MiB before any request, and that the records
// around it, including one of exactly 1 MiB, arrive.
func TestKinesaliteOversizedRecord(t *testing.T) {
	client := liteClient(t)
	stream, _ := liteCreateStream(t, client, 2)
	const key = "oversize-test"
	s, err := inskinesis.NewKinesis(inskinesis.Config[[]byte]{
		StreamName:  stream,
		Client:      client,
		Codec:       codec.Bytes{},
		Partitioner: partition.Static[[]byte](key),
	})
	require.NoError(t, err)

	// Data alone is within 1 MiB: only the key takes it over.
	over := make([]byte, inskinesis.DefaultMaxRecordSize-len(key)+1)
	err = s.Put(over)
	require.ErrorIs(t, err, inskinesis.ErrRecordTooLarge)
	st := s.Stats()
	assert.Zero(t, st.Requests, "no request for a refused record")
	assert.Zero(t, st.BufferedRecords, "a refused record takes no buffer space")

	atLimit := make([]byte, inskinesis.DefaultMaxRecordSize-len(key))
	for i := range atLimit {
		atLimit[i] = byte(i)
	}
	want := [][]byte{[]byte("before"), atLimit, []byte("after")}
	require.NoError(t, s.Put(want[0]))
	require.NoError(t, s.Put(want[1]))
	require.ErrorIs(t, s.Put(over), inskinesis.ErrRecordTooLarge)
	require.NoError(t, s.Put(want[2]))
	s.FlushAndStopStreaming()
	require.Empty(t, litePutErrors(t, s))

	got := liteReadStream(t, client, stream)
	require.Len(t, got, len(want))
	for i, r := range got { // one key: one shard, in Put order
		assert.Equal(t, want[i], r.Data, "record %d (%d bytes)", i, len(r.Data))
		assert.Equal(t, key, r.PartitionKey)
	}
	assert.Equal(t, int64(3), s.Stats().Delivered)

	// kinesalite counts only the data against the 1 MiB limit (Kinesis
	// counts the key too), so it would have stored the refused record: the
	// refusal above was the stream's own.
	_, err = client.PutRecords(t.Context(), &kinesis.PutRecordsInput{
		StreamName: aws.String(stream),
		Records:    []types.PutRecordsRequestEntry{{Data: over, PartitionKey: aws.String(key)}},
	})
	assert.NoError(t, err, "kinesalite took data+key over 1 MiB")
}

// TestKinesaliteMissingStream checks that records put to a stream that does
// not exist come back on Error at once, after one attempt each, as a
// PutError with code ResourceNotFoundException holding exactly them.
func TestKinesaliteMissingStream(t *testing.T) {
	client := liteClient(t)
	const n = 10
	s, err := inskinesis.NewKinesis(inskinesis.Config[liteOrder]{
		StreamName: liteStreamName(t),
		Client:     client,
		// A retry would wait about a minute and make Close below give up.
		RetryInterval: time.Minute,
	})
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, s.Put(liteNewOrder(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.Close(ctx), "Close: every record reported before the deadline")

	pes := litePutErrors(t, s)
	require.NotEmpty(t, pes)
	var got []int
	for _, pe := range pes {
		assert.Equal(t, "ResourceNotFoundException", pe.Code)
		assert.Equal(t, 1, pe.Attempts, "attempts")
		assert.False(t, pe.MaybeWritten)
		assert.NotErrorIs(t, pe, inskinesis.ErrRetriesExhausted)
		var apiErr smithy.APIError
		if assert.True(t, errors.As(pe, &apiErr), "PutError wraps the AWS error") {
			assert.Equal(t, "ResourceNotFoundException", apiErr.ErrorCode())
		}
		for _, r := range pe.Records {
			got = append(got, r.Seq)
		}
	}
	slices.Sort(got)
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	assert.Equal(t, want, got, "the failed records are exactly those put")
	st := s.Stats()
	assert.Equal(t, int64(len(pes)), st.Requests, "one request per PutError, none repeated")
	assert.Zero(t, st.Retried)
	assert.Equal(t, int64(n), st.Failed)
	assert.Zero(t, st.Delivered)
}

// TestKinesaliteRequestRefusedWith413FailsFast sends one request whose
// body is over 7 MiB, which kinesalite refuses with a bare HTTP 413 (no
// JSON error body; Kinesis itself takes up to 10 MiB of data). A 413 says
// the request was not processed and that sending it again cannot help, so
// the records must fail after one attempt, not be resent, and not be
// flagged as possibly written. A proxy in front of Kinesis may answer the
// same way.
func TestKinesaliteRequestRefusedWith413FailsFast(t *testing.T) {
	client := liteClient(t)
	stream, _ := liteCreateStream(t, client, 1)
	const n, size = 6, 1_000_000 // 6 MB of data: 8 MB of base64 in the body
	s, err := inskinesis.NewKinesis(inskinesis.Config[[]byte]{
		StreamName:             stream,
		Client:                 client,
		Codec:                  codec.Bytes{},
		Partitioner:            partition.Static[[]byte]("big"),
		MaxStreamBatchByteSize: 8 << 20,
		FlushInterval:          time.Hour, // one request, sent by Close
		RetryInterval:          time.Millisecond,
	})
	require.NoError(t, err)
	for i := range n {
		data := make([]byte, size)
		data[0] = byte(i)
		require.NoError(t, s.Put(data))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Close(ctx))

	failed := 0
	for _, pe := range litePutErrors(t, s) {
		failed += len(pe.Records)
		assert.Equal(t, 1, pe.Attempts, "attempts of a request refused with 413 (code %q): %v", pe.Code, pe)
		assert.False(t, pe.MaybeWritten, "a 413 means the request was not processed")
		assert.NotErrorIs(t, pe, inskinesis.ErrRetriesExhausted)
	}
	assert.Equal(t, n, failed, "records reported")
	st := s.Stats()
	assert.Equal(t, int64(1), st.Requests, "requests")
	assert.Zero(t, st.Retried, "records resent")
	assert.Zero(t, st.Delivered)
}

// TestKinesaliteExplicitHashKey checks that an explicit hash key, not the
// partition key, picks the shard: each record names a shard and gets that
// shard's first or last hash key, and lands there.
func TestKinesaliteExplicitHashKey(t *testing.T) {
	client := liteClient(t)
	stream, shards := liteCreateStream(t, client, 4)
	ranges := liteShardRanges(t, shards)
	ids := make([]string, 0, len(ranges))
	for id := range ranges {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	hashKey := func(o liteOrder) string {
		rg := ranges[ids[o.Shard]]
		if o.Seq/len(ids)%2 == 0 {
			return rg.start.String()
		}
		return rg.end.String()
	}
	s, err := inskinesis.NewKinesis(inskinesis.Config[liteOrder]{
		StreamName:      stream,
		Client:          client,
		ExplicitHashKey: hashKey,
		// Random partition keys, which alone would spread the records.
		Partitioner: partition.UUID[liteOrder](),
	})
	require.NoError(t, err)
	const n = 400
	for i := range n {
		o := liteNewOrder(i)
		o.Shard = i % len(ids)
		require.NoError(t, s.Put(o))
	}
	s.FlushAndStopStreaming()
	require.Empty(t, litePutErrors(t, s))

	got := liteReadStream(t, client, stream)
	require.Len(t, got, n)
	seen := make(map[int]bool)
	for _, r := range got {
		v, err := json.Codec[liteOrder]{}.Decode(r.Data)
		require.NoError(t, err)
		assert.False(t, seen[v.Seq], "record %d read twice", v.Seq)
		seen[v.Seq] = true
		assert.Equal(t, ids[v.Shard], r.ShardID, "record %d with hash key %s", v.Seq, hashKey(v))
	}
	assert.Len(t, seen, n)
}

// TestKinesaliteSkipsWithoutEndpoint checks that without
// INSKINESIS_KINESALITE_ENDPOINT the integration tests skip rather than fail.
func TestKinesaliteSkipsWithoutEndpoint(t *testing.T) {
	t.Setenv(liteEndpointEnv, "")
	skipped := false
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		liteClient(t)
		t.Error("kinesalite returned a client without an endpoint")
	})
	assert.True(t, skipped, "the test skipped")
}

// TestKinesaliteEmptyRecord: a record that encodes to zero bytes (an
// all-default protobuf message) reaches a real server as empty data, with
// the records sent in the same call, and reads back as the default message.
func TestKinesaliteEmptyRecord(t *testing.T) {
	client := liteClient(t)
	stream, _ := liteCreateStream(t, client, 1)
	s, err := inskinesis.NewKinesis(inskinesis.Config[*testpb.Event]{
		StreamName:  stream,
		Client:      client,
		Codec:       protocodec.Codec[*testpb.Event]{},
		Partitioner: partition.Static[*testpb.Event]("empty"),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results := s.PutSync(ctx, &testpb.Event{}, liteNewEvent(1), &testpb.Event{})
	s.FlushAndStopStreaming()
	for i, r := range results {
		require.NoError(t, r.Err, "record %d", i)
		assert.Equal(t, 1, r.Attempts, "record %d", i)
	}
	require.Empty(t, litePutErrors(t, s))

	got := liteReadStream(t, client, stream)
	require.Len(t, got, 3)
	assert.Empty(t, got[0].Data)
	assert.Empty(t, got[2].Data)
	var e testpb.Event
	require.NoError(t, protobuf.Unmarshal(got[1].Data, &e))
	assert.Equal(t, "1", e.Id)
}
