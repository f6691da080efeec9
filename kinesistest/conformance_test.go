package kinesistest

// The conformance table: scenarios whose outcome AWS documents or has been
// seen to give, run through the real aws-sdk-go-v2 client against
// kinesistest and, when INSKINESIS_KINESALITE_ENDPOINT names one, against a
// kinesalite server (npm kinesalite@3.3.3). A case whose `kinesalite` field is
// set says where kinesalite differs from AWS; it is skipped there with that
// reason.
//
// To run the kinesalite half locally:
//
//	mkdir -p .tools && cd .tools && npm install kinesalite@3.3.3
//	node -e "const s=require('kinesalite')({createStreamMs:0,deleteStreamMs:0,updateStreamMs:0,shardLimit:1000}); s.listen(4567,'127.0.0.1')" &
//	INSKINESIS_KINESALITE_ENDPOINT=http://127.0.0.1:4567 go test ./kinesistest -run Conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// kinesaliteEnv names the environment variable that holds a kinesalite
// endpoint URL for the second half of the conformance table.
const kinesaliteEnv = "INSKINESIS_KINESALITE_ENDPOINT"

// kinesaliteAllEnv, when set to anything, runs the cases where kinesalite
// differs from AWS against kinesalite too: they are expected to fail, which
// checks that each stated difference still holds (for example after a
// kinesalite upgrade).
const kinesaliteAllEnv = "INSKINESIS_KINESALITE_RUN_ALL"

const mib = 1 << 20

// confEnv is what a conformance case gets: a client, the endpoint and a
// fresh ACTIVE stream of the case's shard count.
type confEnv struct {
	ctx        context.Context
	c          *kinesis.Client
	endpoint   string
	stream     string
	kinesalite bool
}

type confCase struct {
	name   string
	shards int
	// kinesalite, when set, is how kinesalite differs from AWS in this case;
	// the case is skipped against kinesalite with this reason.
	kinesalite string
	run        func(t *testing.T, e *confEnv)
}

var streamSeq atomic.Int64

func freshStreamName(t *testing.T) string {
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	if len(base) > 80 {
		base = base[len(base)-80:]
	}
	return fmt.Sprintf("c%d-%d-%s", time.Now().UnixNano()%1e9, streamSeq.Add(1), strings.Trim(base, "-"))
}

func TestConformance(t *testing.T) {
	t.Run("kinesistest", func(t *testing.T) {
		srv := Start(t)
		runConformance(t, srv.Client(noRetries), srv.URL(), false)
	})
	t.Run("kinesalite", func(t *testing.T) {
		ep := os.Getenv(kinesaliteEnv)
		if ep == "" {
			t.Skipf("%s is not set, so there is no kinesalite server to run the table against; see the top of conformance_test.go to start one", kinesaliteEnv)
		}
		hc, tr := newHTTPClient()
		t.Cleanup(tr.CloseIdleConnections)
		c := kinesis.New(kinesis.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(ep),
			Credentials:  credentials.NewStaticCredentialsProvider("x", "y", ""),
			HTTPClient:   hc,
		}, noRetries)
		runConformance(t, c, ep, true)
	})
}

func runConformance(t *testing.T, c *kinesis.Client, endpoint string, kinesalite bool) {
	for _, tc := range conformanceCases() {
		t.Run(tc.name, func(t *testing.T) {
			if kinesalite && tc.kinesalite != "" && os.Getenv(kinesaliteAllEnv) == "" {
				t.Skip("kinesalite differs from AWS here: " + tc.kinesalite)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			e := &confEnv{ctx: ctx, c: c, endpoint: endpoint, kinesalite: kinesalite, stream: freshStreamName(t)}
			if tc.shards > 0 {
				_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &e.stream, ShardCount: aws.Int32(int32(tc.shards))})
				if err != nil {
					t.Fatalf("CreateStream: %v", err)
				}
				e.waitActive(t)
				defer func() {
					_, _ = c.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: &e.stream})
				}()
			}
			tc.run(t, e)
		})
	}
}

// waitActive polls DescribeStreamSummary until the stream is ACTIVE
// (kinesalite creates and reshards asynchronously), for at most 10 s.
func (e *confEnv) waitActive(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := e.c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &e.stream})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not ACTIVE after 10s (last error %v)", e.stream, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// arn returns the stream's ARN as DescribeStreamSummary reports it.
func (e *confEnv) arn(t *testing.T) string {
	t.Helper()
	out, err := e.c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &e.stream})
	if err != nil {
		t.Fatalf("DescribeStreamSummary: %v", err)
	}
	arn := aws.ToString(out.StreamDescriptionSummary.StreamARN)
	if !strings.HasSuffix(arn, ":stream/"+e.stream) {
		t.Fatalf("StreamARN = %q", arn)
	}
	return arn
}

func (e *confEnv) put(t *testing.T, entries ...types.PutRecordsRequestEntry) (*kinesis.PutRecordsOutput, error) {
	t.Helper()
	return e.c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: &e.stream, Records: entries})
}

func (e *confEnv) mustPut(t *testing.T, entries ...types.PutRecordsRequestEntry) *kinesis.PutRecordsOutput {
	t.Helper()
	out, err := e.put(t, entries...)
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
		t.Fatalf("PutRecords: FailedRecordCount = %d, want 0", n)
	}
	return out
}

func (e *confEnv) shards(t *testing.T, filter *types.ShardFilter) []types.Shard {
	t.Helper()
	out, err := e.c.ListShards(e.ctx, &kinesis.ListShardsInput{StreamName: &e.stream, ShardFilter: filter})
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	return out.Shards
}

// readShard reads a whole shard from TRIM_HORIZON with the given page limit.
func (e *confEnv) readShard(t *testing.T, shardID string, limit int32) []types.Record {
	t.Helper()
	it, err := e.c.GetShardIterator(e.ctx, &kinesis.GetShardIteratorInput{
		StreamName: &e.stream, ShardId: &shardID, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	var all []types.Record
	iter := it.ShardIterator
	for i := 0; iter != nil && i < 1000; i++ {
		out, err := e.c.GetRecords(e.ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(limit)})
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		all = append(all, out.Records...)
		if len(out.Records) == 0 {
			break
		}
		iter = out.NextShardIterator
	}
	return all
}

func (e *confEnv) countAll(t *testing.T) int {
	t.Helper()
	n := 0
	for _, sh := range e.shards(t, nil) {
		n += len(e.readShard(t, aws.ToString(sh.ShardId), 10000))
	}
	return n
}

func entry(key string, data []byte) types.PutRecordsRequestEntry {
	return types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: data}
}

func entries(n int, size int) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = entry(fmt.Sprintf("key-%d", i), bytes.Repeat([]byte{byte('a' + i%26)}, size))
	}
	return out
}

// wantCode fails t unless err is an API error with the code want.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want)
	}
	if got := apiCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func mustBig(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("not a decimal: " + s)
	}
	return b
}

// owner returns the shard of shards whose range holds h.
func owner(shards []types.Shard, h *big.Int) string {
	for _, sh := range shards {
		if sh.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		lo, hi := mustBig(*sh.HashKeyRange.StartingHashKey), mustBig(*sh.HashKeyRange.EndingHashKey)
		if lo.Cmp(h) <= 0 && h.Cmp(hi) <= 0 {
			return *sh.ShardId
		}
	}
	return ""
}

var pow128 = new(big.Int).Lsh(big.NewInt(1), 128)

func conformanceCases() []confCase {
	maxKey := new(big.Int).Sub(pow128, big.NewInt(1)).String()
	return []confCase{
		{
			name: "CreateStream splits the hash key space evenly", shards: 3,
			run: func(t *testing.T, e *confEnv) {
				shards := e.shards(t, nil)
				w := new(big.Int).Div(pow128, big.NewInt(3))
				want := [][2]string{
					{"0", new(big.Int).Sub(w, big.NewInt(1)).String()},
					{w.String(), new(big.Int).Sub(new(big.Int).Mul(w, big.NewInt(2)), big.NewInt(1)).String()},
					{new(big.Int).Mul(w, big.NewInt(2)).String(), maxKey},
				}
				if len(shards) != 3 {
					t.Fatalf("got %d shards, want 3", len(shards))
				}
				for i, sh := range shards {
					got := [2]string{*sh.HashKeyRange.StartingHashKey, *sh.HashKeyRange.EndingHashKey}
					if got != want[i] {
						t.Errorf("shard %d range = %v, want %v", i, got, want[i])
					}
					if *sh.ShardId != fmt.Sprintf("shardId-%012d", i) {
						t.Errorf("shard %d id = %s", i, *sh.ShardId)
					}
				}
				if want[0][1] != "113427455640312821154458202477256070484" {
					t.Errorf("first range ends at %s, AWS ends it at 113427455640312821154458202477256070484", want[0][1])
				}
			},
		},
		{
			name: "a put lands on the shard owning MD5 of its partition key", shards: 4,
			run: func(t *testing.T, e *confEnv) {
				shards := e.shards(t, nil)
				in := entries(60, 10)
				out := e.mustPut(t, in...)
				used := map[string]bool{}
				for i, r := range out.Records {
					want := owner(shards, HashKey(*in[i].PartitionKey))
					if got := aws.ToString(r.ShardId); got != want {
						t.Errorf("record %d (key %s) went to %s, want %s", i, *in[i].PartitionKey, got, want)
					}
					used[aws.ToString(r.ShardId)] = true
				}
				if len(used) != 4 {
					t.Errorf("60 keys used %d of 4 shards", len(used))
				}
				one, err := e.c.PutRecord(e.ctx, &kinesis.PutRecordInput{StreamName: &e.stream, PartitionKey: aws.String("single"), Data: []byte("x")})
				if err != nil {
					t.Fatalf("PutRecord: %v", err)
				}
				if got, want := aws.ToString(one.ShardId), owner(shards, HashKey("single")); got != want {
					t.Errorf("PutRecord went to %s, want %s", got, want)
				}
			},
		},
		{
			name: "ExplicitHashKey overrides the partition key", shards: 4,
			run: func(t *testing.T, e *confEnv) {
				shards := e.shards(t, nil)
				third := *shards[2].HashKeyRange.StartingHashKey
				keys := []string{"0", maxKey, third}
				var in []types.PutRecordsRequestEntry
				for _, k := range keys {
					in = append(in, types.PutRecordsRequestEntry{PartitionKey: aws.String("same"), ExplicitHashKey: aws.String(k), Data: []byte("x")})
				}
				out := e.mustPut(t, in...)
				want := []string{*shards[0].ShardId, *shards[3].ShardId, *shards[2].ShardId}
				for i, r := range out.Records {
					if aws.ToString(r.ShardId) != want[i] {
						t.Errorf("ExplicitHashKey %s went to %s, want %s", keys[i], aws.ToString(r.ShardId), want[i])
					}
				}
			},
		},
		{
			name: "500 records are accepted in one request", shards: 2,
			run: func(t *testing.T, e *confEnv) {
				out := e.mustPut(t, entries(500, 1)...)
				if len(out.Records) != 500 {
					t.Fatalf("got %d results, want 500", len(out.Records))
				}
			},
		},
		{
			name: "501 records fail the whole request with ValidationException", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				_, err := e.put(t, entries(501, 1)...)
				wantCode(t, err, "ValidationException")
				var ve *types.ValidationException
				if !errors.As(err, &ve) {
					t.Errorf("errors.As(*types.ValidationException) failed for %T", err)
				}
				if n := e.countAll(t); n != 0 {
					t.Errorf("stream holds %d records after a refused request", n)
				}
			},
		},
		{
			name: "an empty Records list fails with ValidationException", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				_, err := e.put(t, []types.PutRecordsRequestEntry{}...)
				wantCode(t, err, "ValidationException")
			},
		},
		{
			name: "a record of exactly 1 MiB with its key is accepted and one byte more fails the whole request", shards: 1,
			kinesalite: "it does not count the partition key in the record size, so data of 1 MiB minus the key plus one byte is accepted",
			run: func(t *testing.T, e *confEnv) {
				key := "sized-key"
				e.mustPut(t, entry(key, make([]byte, mib-len(key))))
				_, err := e.put(t, entry("small", []byte("ok")), entry(key, make([]byte, mib-len(key)+1)))
				wantCode(t, err, "ValidationException")
				if n := e.countAll(t); n != 1 {
					t.Errorf("stream holds %d records, want only the first one", n)
				}
				_, err = e.c.PutRecord(e.ctx, &kinesis.PutRecordInput{StreamName: &e.stream, PartitionKey: &key, Data: make([]byte, mib-len(key)+1)})
				wantCode(t, err, "ValidationException")
			},
		},
		{
			name: "data over 1 MiB fails the whole request with ValidationException", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				_, err := e.put(t, entry("small", []byte("ok")), entry("k", make([]byte, mib+1)))
				wantCode(t, err, "ValidationException")
				if n := e.countAll(t); n != 0 {
					t.Errorf("stream holds %d records after a refused request", n)
				}
			},
		},
		{
			name: "empty data is accepted and read back empty", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				e.mustPut(t, entry("k", []byte{}), entry("k", []byte("x")))
				if _, err := e.c.PutRecord(e.ctx, &kinesis.PutRecordInput{StreamName: &e.stream, PartitionKey: aws.String("k"), Data: []byte{}}); err != nil {
					t.Fatalf("PutRecord of empty data: %v", err)
				}
				var sizes []int
				for _, sh := range e.shards(t, nil) {
					for _, r := range e.readShard(t, aws.ToString(sh.ShardId), 100) {
						sizes = append(sizes, len(r.Data))
					}
				}
				if len(sizes) != 3 || sizes[0] != 0 || sizes[1] != 1 || sizes[2] != 0 {
					t.Errorf("data sizes read back = %v, want [0 1 0]", sizes)
				}
			},
		},
		{
			name: "an empty partition key fails with ValidationException", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				_, err := e.put(t, entry("", []byte("x")))
				wantCode(t, err, "ValidationException")
				_, err = e.c.PutRecord(e.ctx, &kinesis.PutRecordInput{StreamName: &e.stream, PartitionKey: aws.String(""), Data: []byte("x")})
				wantCode(t, err, "ValidationException")
			},
		},
		{
			name: "a key of 256 three-byte code points is accepted and 257 fail", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				e.mustPut(t, entry(strings.Repeat("日", 256), []byte("x")))
				_, err := e.put(t, entry(strings.Repeat("日", 257), []byte("x")))
				wantCode(t, err, "ValidationException")
			},
		},
		{
			name: "a key of 256 four-byte code points is accepted", shards: 1,
			kinesalite: "it counts UTF-16 code units, so a code point outside the Basic Multilingual Plane counts twice",
			run: func(t *testing.T, e *confEnv) {
				e.mustPut(t, entry(strings.Repeat("😀", 256), []byte("x")))
				_, err := e.put(t, entry(strings.Repeat("😀", 257), []byte("x")))
				wantCode(t, err, "ValidationException")
			},
		},
		{name: "ExplicitHashKey \"\" fails with ValidationException", shards: 1, run: badEHK("", "ValidationException")},
		{name: "ExplicitHashKey \"abc\" fails with ValidationException", shards: 1, run: badEHK("abc", "ValidationException")},
		{name: "ExplicitHashKey \"1.0\" fails with ValidationException", shards: 1, run: badEHK("1.0", "ValidationException")},
		{name: "ExplicitHashKey of 40 digits fails with ValidationException", shards: 1, run: badEHK("1"+strings.Repeat("0", 39), "ValidationException")},
		{
			name: "ExplicitHashKey \"01\" fails with ValidationException", shards: 1, run: badEHK("01", "ValidationException"),
			kinesalite: "its pattern 0|([1-9]\\d{0,38}) is anchored per alternative (^0 or …$), so a leading zero passes",
		},
		{
			name: "ExplicitHashKey \"1e5\" fails with ValidationException", shards: 1, run: badEHK("1e5", "ValidationException"),
			kinesalite: "its pattern is anchored per alternative, so any value ending in a digit passes and 1e5 is read as 100000",
		},
		{
			name: "ExplicitHashKey \"-1\" fails with ValidationException", shards: 1, run: badEHK("-1", "ValidationException"),
			kinesalite: "its pattern is anchored per alternative, so -1 passes it and fails the range check with InvalidArgumentException",
		},
		{
			name: "ExplicitHashKey 2^128 fails with InvalidArgumentException", shards: 1,
			run: badEHK(pow128.String(), "InvalidArgumentException"),
		},
		{
			name: "a missing stream gives ResourceNotFoundException",
			run: func(t *testing.T, e *confEnv) {
				_, err := e.put(t, entry("k", []byte("x")))
				wantCode(t, err, "ResourceNotFoundException")
				var rnf *types.ResourceNotFoundException
				if !errors.As(err, &rnf) {
					t.Errorf("errors.As(*types.ResourceNotFoundException) failed for %T: %v", err, err)
				} else if !strings.Contains(rnf.ErrorMessage(), e.stream) {
					t.Errorf("the message %q does not name the stream", rnf.ErrorMessage())
				}
				_, err = e.c.PutRecord(e.ctx, &kinesis.PutRecordInput{StreamName: &e.stream, PartitionKey: aws.String("k"), Data: []byte("x")})
				wantCode(t, err, "ResourceNotFoundException")
				_, err = e.c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &e.stream})
				wantCode(t, err, "ResourceNotFoundException")
				_, err = e.c.ListShards(e.ctx, &kinesis.ListShardsInput{StreamName: &e.stream})
				wantCode(t, err, "ResourceNotFoundException")
				_, err = e.c.GetShardIterator(e.ctx, &kinesis.GetShardIteratorInput{StreamName: &e.stream, ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
				wantCode(t, err, "ResourceNotFoundException")
			},
		},
		{
			name: "CreateStream of an existing name gives ResourceInUseException", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				_, err := e.c.CreateStream(e.ctx, &kinesis.CreateStreamInput{StreamName: &e.stream, ShardCount: aws.Int32(1)})
				wantCode(t, err, "ResourceInUseException")
				var riu *types.ResourceInUseException
				if !errors.As(err, &riu) {
					t.Errorf("errors.As(*types.ResourceInUseException) failed for %T", err)
				}
			},
		},
		{
			name: "GetRecords returns a shard's records in order", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				var want []string
				for b := 0; b < 3; b++ {
					var in []types.PutRecordsRequestEntry
					for i := 0; i < 10; i++ {
						d := fmt.Sprintf("rec-%02d", b*10+i)
						want = append(want, d)
						in = append(in, entry(fmt.Sprintf("k%d", i%3), []byte(d)))
					}
					e.mustPut(t, in...)
				}
				shardID := *e.shards(t, nil)[0].ShardId
				got := e.readShard(t, shardID, 7)
				if len(got) != len(want) {
					t.Fatalf("read %d records, want %d", len(got), len(want))
				}
				prev := big.NewInt(-1)
				for i, r := range got {
					if string(r.Data) != want[i] {
						t.Errorf("record %d = %q, want %q", i, r.Data, want[i])
					}
					seq := mustBig(*r.SequenceNumber)
					if seq.Cmp(prev) <= 0 {
						t.Errorf("sequence number %d (%s) does not increase", i, *r.SequenceNumber)
					}
					prev = seq
					if r.ApproximateArrivalTimestamp == nil || r.PartitionKey == nil {
						t.Errorf("record %d lacks its timestamp or key", i)
					}
				}
				at := func(typ types.ShardIteratorType, seq string) []types.Record {
					it, err := e.c.GetShardIterator(e.ctx, &kinesis.GetShardIteratorInput{StreamName: &e.stream, ShardId: &shardID, ShardIteratorType: typ, StartingSequenceNumber: &seq})
					if err != nil {
						t.Fatalf("GetShardIterator %s: %v", typ, err)
					}
					out, err := e.c.GetRecords(e.ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(2)})
					if err != nil {
						t.Fatalf("GetRecords: %v", err)
					}
					return out.Records
				}
				if r := at(types.ShardIteratorTypeAtSequenceNumber, *got[10].SequenceNumber); len(r) == 0 || string(r[0].Data) != want[10] {
					t.Errorf("AT_SEQUENCE_NUMBER of record 10 starts at %v", r)
				}
				if r := at(types.ShardIteratorTypeAfterSequenceNumber, *got[10].SequenceNumber); len(r) == 0 || string(r[0].Data) != want[11] {
					t.Errorf("AFTER_SEQUENCE_NUMBER of record 10 starts at %v", r)
				}
				latest, err := e.c.GetShardIterator(e.ctx, &kinesis.GetShardIteratorInput{StreamName: &e.stream, ShardId: &shardID, ShardIteratorType: types.ShardIteratorTypeLatest})
				if err != nil {
					t.Fatalf("GetShardIterator LATEST: %v", err)
				}
				e.mustPut(t, entry("k", []byte("after-latest")))
				out, err := e.c.GetRecords(e.ctx, &kinesis.GetRecordsInput{ShardIterator: latest.ShardIterator})
				if err != nil {
					t.Fatalf("GetRecords: %v", err)
				}
				if len(out.Records) != 1 || string(out.Records[0].Data) != "after-latest" {
					t.Errorf("LATEST read %d records, want only the one put after it", len(out.Records))
				}
				if out.MillisBehindLatest == nil || *out.MillisBehindLatest != 0 {
					t.Errorf("MillisBehindLatest = %v at the tip, want 0", out.MillisBehindLatest)
				}
				if out.NextShardIterator == nil {
					t.Errorf("an open shard gave no NextShardIterator")
				}
			},
		},
		{
			name: "ListShards pages with MaxResults and NextToken", shards: 5,
			kinesalite: "it returns every shard in one page and never a NextToken",
			run: func(t *testing.T, e *confEnv) {
				var ids []string
				in := &kinesis.ListShardsInput{StreamName: &e.stream, MaxResults: aws.Int32(2)}
				pages := 0
				for {
					out, err := e.c.ListShards(e.ctx, in)
					if err != nil {
						t.Fatalf("ListShards page %d: %v", pages, err)
					}
					pages++
					for _, sh := range out.Shards {
						ids = append(ids, *sh.ShardId)
					}
					if out.NextToken == nil {
						break
					}
					if len(out.Shards) != 2 {
						t.Errorf("page %d has %d shards, want 2", pages, len(out.Shards))
					}
					in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(2)}
					if pages > 5 {
						t.Fatal("more pages than shards")
					}
				}
				if pages != 3 || len(ids) != 5 {
					t.Fatalf("got %d pages and shards %v, want 3 pages of 5 shards", pages, ids)
				}
				for i, id := range ids {
					if id != fmt.Sprintf("shardId-%012d", i) {
						t.Errorf("shard %d = %s", i, id)
					}
				}
			},
		},
		{
			name: "ListShards refuses StreamName together with NextToken", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				_, err := e.c.ListShards(e.ctx, &kinesis.ListShardsInput{StreamName: &e.stream, NextToken: aws.String("AAAA")})
				wantCode(t, err, "InvalidArgumentException")
			},
		},
		{
			name: "a request of exactly 10 MiB is accepted and one over fails as a whole with InvalidArgumentException", shards: 2,
			kinesalite: "it refuses bodies over about 7 MiB with a bare HTTP 413 and no error code",
			run: func(t *testing.T, e *confEnv) {
				var in []types.PutRecordsRequestEntry
				for i := 0; i < 10; i++ {
					key := fmt.Sprintf("big-%d", i)
					in = append(in, entry(key, make([]byte, mib-len(key))))
				}
				e.mustPut(t, in...)
				_, err := e.put(t, append(in, entry("one-more", []byte("x")))...)
				wantCode(t, err, "InvalidArgumentException")
				if n := e.countAll(t); n != 10 {
					t.Errorf("stream holds %d records, want the 10 of the first request", n)
				}
			},
		},
		{
			name: "DescribeStreamSummary reports an ACTIVE stream and its open shards", shards: 3,
			run: func(t *testing.T, e *confEnv) {
				out, err := e.c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &e.stream})
				if err != nil {
					t.Fatal(err)
				}
				s := out.StreamDescriptionSummary
				if s.StreamStatus != types.StreamStatusActive || aws.ToInt32(s.OpenShardCount) != 3 || aws.ToString(s.StreamName) != e.stream {
					t.Errorf("summary = status %s, open %d, name %s", s.StreamStatus, aws.ToInt32(s.OpenShardCount), aws.ToString(s.StreamName))
				}
				if !strings.HasSuffix(aws.ToString(s.StreamARN), ":stream/"+e.stream) {
					t.Errorf("StreamARN = %s", aws.ToString(s.StreamARN))
				}
			},
		},
		{
			name: "DescribeStreamSummary reports MaxRecordSizeInKiB 1024 by default", shards: 1,
			kinesalite: "it predates MaxRecordSizeInKiB and leaves it out",
			run: func(t *testing.T, e *confEnv) {
				out, err := e.c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &e.stream})
				if err != nil {
					t.Fatal(err)
				}
				if got := aws.ToInt32(out.StreamDescriptionSummary.MaxRecordSizeInKiB); got != 1024 {
					t.Errorf("MaxRecordSizeInKiB = %d, want 1024", got)
				}
			},
		},
		{
			name: "SplitShard closes the parent and opens two children", shards: 1,
			run: func(t *testing.T, e *confEnv) {
				before := e.mustPut(t, entry("before", []byte("x")))
				parent := *e.shards(t, nil)[0].ShardId
				mid := new(big.Int).Lsh(big.NewInt(1), 127)
				if _, err := e.c.SplitShard(e.ctx, &kinesis.SplitShardInput{StreamName: &e.stream, ShardToSplit: &parent, NewStartingHashKey: aws.String(mid.String())}); err != nil {
					t.Fatalf("SplitShard: %v", err)
				}
				e.waitActive(t)
				shards := e.shards(t, nil)
				if len(shards) != 3 {
					t.Fatalf("got %d shards after a split, want 3", len(shards))
				}
				p := shards[0]
				if p.SequenceNumberRange.EndingSequenceNumber == nil {
					t.Fatal("the parent has no EndingSequenceNumber")
				}
				if mustBig(*p.SequenceNumberRange.EndingSequenceNumber).Cmp(mustBig(*before.Records[0].SequenceNumber)) < 0 {
					t.Error("the parent's EndingSequenceNumber is below its last record")
				}
				wantRanges := [][2]string{{"0", new(big.Int).Sub(mid, big.NewInt(1)).String()}, {mid.String(), maxKey}}
				for i, c := range shards[1:] {
					if aws.ToString(c.ParentShardId) != parent {
						t.Errorf("child %s has parent %v", *c.ShardId, aws.ToString(c.ParentShardId))
					}
					if c.SequenceNumberRange.EndingSequenceNumber != nil {
						t.Errorf("child %s is closed", *c.ShardId)
					}
					got := [2]string{*c.HashKeyRange.StartingHashKey, *c.HashKeyRange.EndingHashKey}
					if got != wantRanges[i] {
						t.Errorf("child %d range %v, want %v", i, got, wantRanges[i])
					}
				}
				in := entries(20, 1)
				out := e.mustPut(t, in...)
				for i, r := range out.Records {
					if want := owner(shards, HashKey(*in[i].PartitionKey)); aws.ToString(r.ShardId) != want {
						t.Errorf("after the split, key %s went to %s, want %s", *in[i].PartitionKey, aws.ToString(r.ShardId), want)
					}
				}
			},
		},
		{
			name: "ListShards with ShardFilter AT_LATEST lists only the open shards", shards: 2,
			kinesalite: "it ignores ShardFilter and lists every shard",
			run: func(t *testing.T, e *confEnv) {
				first := *e.shards(t, nil)[0].ShardId
				if _, err := e.c.SplitShard(e.ctx, &kinesis.SplitShardInput{StreamName: &e.stream, ShardToSplit: &first, NewStartingHashKey: aws.String("1000")}); err != nil {
					t.Fatalf("SplitShard: %v", err)
				}
				e.waitActive(t)
				open := e.shards(t, &types.ShardFilter{Type: types.ShardFilterTypeAtLatest})
				var ids []string
				for _, sh := range open {
					ids = append(ids, *sh.ShardId)
				}
				want := []string{"shardId-000000000001", "shardId-000000000002", "shardId-000000000003"}
				if fmt.Sprint(ids) != fmt.Sprint(want) {
					t.Errorf("AT_LATEST = %v, want %v", ids, want)
				}
			},
		},
		{
			name: "GetRecords at the end of a closed shard gives ChildShards and no NextShardIterator", shards: 1,
			kinesalite: "it returns neither ChildShards nor the end of the shard on the call that reaches it",
			run: func(t *testing.T, e *confEnv) {
				e.mustPut(t, entries(3, 1)...)
				parent := *e.shards(t, nil)[0].ShardId
				if _, err := e.c.SplitShard(e.ctx, &kinesis.SplitShardInput{StreamName: &e.stream, ShardToSplit: &parent, NewStartingHashKey: aws.String("1000")}); err != nil {
					t.Fatalf("SplitShard: %v", err)
				}
				e.waitActive(t)
				it, err := e.c.GetShardIterator(e.ctx, &kinesis.GetShardIteratorInput{StreamName: &e.stream, ShardId: &parent, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
				if err != nil {
					t.Fatal(err)
				}
				out, err := e.c.GetRecords(e.ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Records) != 3 || out.NextShardIterator != nil || len(out.ChildShards) != 2 {
					t.Fatalf("got %d records, NextShardIterator %v, %d child shards; want 3, nil, 2", len(out.Records), out.NextShardIterator, len(out.ChildShards))
				}
				for _, c := range out.ChildShards {
					if len(c.ParentShards) != 1 || c.ParentShards[0] != parent {
						t.Errorf("child %s has parents %v", aws.ToString(c.ShardId), c.ParentShards)
					}
				}
			},
		},
		{
			name: "MergeShards closes two adjacent shards and opens one over both ranges", shards: 3,
			run: func(t *testing.T, e *confEnv) {
				shards := e.shards(t, nil)
				if _, err := e.c.MergeShards(e.ctx, &kinesis.MergeShardsInput{StreamName: &e.stream, ShardToMerge: shards[1].ShardId, AdjacentShardToMerge: shards[2].ShardId}); err != nil {
					t.Fatalf("MergeShards: %v", err)
				}
				e.waitActive(t)
				after := e.shards(t, nil)
				if len(after) != 4 {
					t.Fatalf("got %d shards after a merge, want 4", len(after))
				}
				c := after[3]
				if aws.ToString(c.ParentShardId) != *shards[1].ShardId || aws.ToString(c.AdjacentParentShardId) != *shards[2].ShardId {
					t.Errorf("child parents = %v, %v", aws.ToString(c.ParentShardId), aws.ToString(c.AdjacentParentShardId))
				}
				if *c.HashKeyRange.StartingHashKey != *shards[1].HashKeyRange.StartingHashKey || *c.HashKeyRange.EndingHashKey != maxKey {
					t.Errorf("child range = %s..%s", *c.HashKeyRange.StartingHashKey, *c.HashKeyRange.EndingHashKey)
				}
				for _, p := range after[1:3] {
					if p.SequenceNumberRange.EndingSequenceNumber == nil {
						t.Errorf("parent %s is still open", *p.ShardId)
					}
				}
			},
		},
		{
			name: "MergeShards of shards that do not touch fails with InvalidArgumentException", shards: 3,
			run: func(t *testing.T, e *confEnv) {
				shards := e.shards(t, nil)
				_, err := e.c.MergeShards(e.ctx, &kinesis.MergeShardsInput{StreamName: &e.stream, ShardToMerge: shards[0].ShardId, AdjacentShardToMerge: shards[2].ShardId})
				wantCode(t, err, "InvalidArgumentException")
			},
		},
		{
			name: "MergeShards of a closed shard fails with InvalidArgumentException", shards: 3,
			kinesalite: "it does not check that the shards are open and merges a closed shard again",
			run: func(t *testing.T, e *confEnv) {
				shards := e.shards(t, nil)
				if _, err := e.c.MergeShards(e.ctx, &kinesis.MergeShardsInput{StreamName: &e.stream, ShardToMerge: shards[1].ShardId, AdjacentShardToMerge: shards[2].ShardId}); err != nil {
					t.Fatalf("MergeShards: %v", err)
				}
				e.waitActive(t)
				_, err := e.c.MergeShards(e.ctx, &kinesis.MergeShardsInput{StreamName: &e.stream, ShardToMerge: shards[0].ShardId, AdjacentShardToMerge: shards[1].ShardId})
				wantCode(t, err, "InvalidArgumentException")
			},
		},
		{
			name: "sequence numbers increase within a shard across requests", shards: 2,
			run: func(t *testing.T, e *confEnv) {
				last := map[string]*big.Int{}
				for i := 0; i < 5; i++ {
					out := e.mustPut(t, entries(20, 1)...)
					for _, r := range out.Records {
						seq := mustBig(*r.SequenceNumber)
						if p := last[*r.ShardId]; p != nil && seq.Cmp(p) <= 0 {
							t.Fatalf("sequence number %s on %s after %s", seq, *r.ShardId, p)
						}
						last[*r.ShardId] = seq
					}
				}
			},
		},
		{
			name: "StreamARN together with StreamName names the stream", shards: 2,
			run: func(t *testing.T, e *confEnv) {
				arn := e.arn(t)
				out, err := e.c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: &e.stream, StreamARN: &arn, Records: entries(3, 8)})
				if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
					t.Fatalf("PutRecords by name and ARN: %v", err)
				}
				ls, err := e.c.ListShards(e.ctx, &kinesis.ListShardsInput{StreamName: &e.stream, StreamARN: &arn})
				if err != nil || len(ls.Shards) != 2 {
					t.Fatalf("ListShards by name and ARN: %v", err)
				}
				sum, err := e.c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &e.stream, StreamARN: &arn})
				if err != nil || aws.ToString(sum.StreamDescriptionSummary.StreamName) != e.stream {
					t.Fatalf("DescribeStreamSummary by name and ARN: %v", err)
				}
				if n := e.countAll(t); n != 3 {
					t.Errorf("read back %d records, want 3", n)
				}
			},
		},
		{
			name: "StreamARN alone names the stream", shards: 1,
			kinesalite: "it requires StreamName and answers ValidationException to a request that names the stream by StreamARN alone",
			run: func(t *testing.T, e *confEnv) {
				arn := e.arn(t)
				out, err := e.c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamARN: &arn, Records: entries(2, 8)})
				if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
					t.Fatalf("PutRecords by ARN: %v", err)
				}
				if _, err := e.c.ListShards(e.ctx, &kinesis.ListShardsInput{StreamARN: &arn}); err != nil {
					t.Fatalf("ListShards by ARN: %v", err)
				}
				if _, err := e.c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: &arn}); err != nil {
					t.Fatalf("DescribeStreamSummary by ARN: %v", err)
				}
			},
		},
		{
			name: "a StreamARN that names another stream than StreamName fails with InvalidArgumentException", shards: 1,
			kinesalite: "it ignores StreamARN when StreamName is given",
			run: func(t *testing.T, e *confEnv) {
				arn := strings.TrimSuffix(e.arn(t), e.stream) + "another-" + e.stream
				_, err := e.c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: &e.stream, StreamARN: &arn, Records: entries(1, 8)})
				wantCode(t, err, "InvalidArgumentException")
			},
		},
		{
			name: "UpdateMaxRecordSize raises the record size limit, which DescribeStreamSummary reports", shards: 1,
			kinesalite: "it has neither UpdateMaxRecordSize nor MaxRecordSizeInKiB",
			run: func(t *testing.T, e *confEnv) {
				big := entry("k", make([]byte, 2*mib-1))
				_, err := e.put(t, big)
				wantCode(t, err, "ValidationException")
				if _, err := e.c.UpdateMaxRecordSize(e.ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: aws.String(e.arn(t)), MaxRecordSizeInKiB: aws.Int32(2048)}); err != nil {
					t.Fatalf("UpdateMaxRecordSize: %v", err)
				}
				out, err := e.c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &e.stream})
				if err != nil {
					t.Fatal(err)
				}
				if got := aws.ToInt32(out.StreamDescriptionSummary.MaxRecordSizeInKiB); got != 2048 {
					t.Errorf("MaxRecordSizeInKiB = %d, want 2048", got)
				}
				e.mustPut(t, big)
				_, err = e.put(t, entry("k", make([]byte, 2*mib)))
				wantCode(t, err, "ValidationException")
			},
		},
		{
			name:       "AUTO distribution spreads one key over every shard and takes records without a key",
			kinesalite: "it has no ON_DEMAND streams and no UpdateStreamRecordDistributionStrategy",
			run: func(t *testing.T, e *confEnv) {
				_, err := e.c.CreateStream(e.ctx, &kinesis.CreateStreamInput{StreamName: &e.stream, StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
				if err != nil {
					t.Fatalf("CreateStream ON_DEMAND: %v", err)
				}
				defer func() {
					_, _ = e.c.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: &e.stream})
				}()
				e.waitActive(t)
				arn := e.arn(t)
				_, err = e.put(t, types.PutRecordsRequestEntry{Data: []byte("x")})
				wantCode(t, err, "ValidationException")
				if _, err := e.c.UpdateStreamRecordDistributionStrategy(e.ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: &arn, RecordDistributionStrategy: types.RecordDistributionStrategyAuto}); err != nil {
					t.Fatalf("UpdateStreamRecordDistributionStrategy: %v", err)
				}
				sum, err := e.c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: &arn})
				if err != nil {
					t.Fatal(err)
				}
				if got := sum.StreamDescriptionSummary.RecordDistributionStrategy; got != types.RecordDistributionStrategyAuto {
					t.Errorf("RecordDistributionStrategy = %q, want AUTO", got)
				}
				recs := make([]types.PutRecordsRequestEntry, 40)
				for i := range recs {
					recs[i] = entry("one-key", []byte("x"))
				}
				recs[0].PartitionKey = nil
				out := e.mustPut(t, recs...)
				shards := map[string]bool{}
				for _, r := range out.Records {
					shards[aws.ToString(r.ShardId)] = true
				}
				if len(shards) < 2 {
					t.Errorf("40 records of one key went to %d shard(s) under AUTO, want them spread", len(shards))
				}
			},
		},
		{
			name: "UpdateStreamRecordDistributionStrategy of a PROVISIONED stream fails with InvalidArgumentException", shards: 1,
			kinesalite: "it has no UpdateStreamRecordDistributionStrategy (UnknownOperationException)",
			run: func(t *testing.T, e *confEnv) {
				_, err := e.c.UpdateStreamRecordDistributionStrategy(e.ctx, &kinesis.UpdateStreamRecordDistributionStrategyInput{StreamARN: aws.String(e.arn(t)), RecordDistributionStrategy: types.RecordDistributionStrategyAuto})
				wantCode(t, err, "InvalidArgumentException")
			},
		},
		{
			name: "an unknown operation gets UnknownOperationException",
			run: func(t *testing.T, e *confEnv) {
				req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.endpoint+"/", strings.NewReader("{}"))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-Amz-Target", "Kinesis_20131202.NoSuchOperation")
				req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				http.DefaultClient.CloseIdleConnections()
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"__type":"UnknownOperationException"`) {
					t.Errorf("got %d %s, want 400 UnknownOperationException", resp.StatusCode, body)
				}
			},
		},
	}
}

// badEHK is a case body: a record with ExplicitHashKey ehk fails the whole
// request with code, and a valid record beside it is not stored.
func badEHK(ehk, code string) func(t *testing.T, e *confEnv) {
	return func(t *testing.T, e *confEnv) {
		_, err := e.put(t, entry("fine", []byte("x")), types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(ehk), Data: []byte("x")})
		wantCode(t, err, code)
		if n := e.countAll(t); n != 0 {
			t.Errorf("stream holds %d records after a refused request", n)
		}
	}
}
