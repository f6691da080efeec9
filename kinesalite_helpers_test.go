package inskinesis_test

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
)

// liteEndpointEnv names the environment variable holding the URL of a
// kinesalite server (a Kinesis server on Node.js) for the integration tests,
// such as http://127.0.0.1:4567. scripts/test.sh starts one and sets it.
const liteEndpointEnv = "INSKINESIS_KINESALITE_ENDPOINT"

// liteClient returns a real *kinesis.Client for the server named by
// INSKINESIS_KINESALITE_ENDPOINT, and skips the test when the variable is
// not set. The client has an HTTP transport of its own whose idle
// connections are closed when the test ends, so that no goroutine outlives
// the tests.
func liteClient(t *testing.T) *kinesis.Client {
	t.Helper()
	endpoint := os.Getenv(liteEndpointEnv)
	if endpoint == "" {
		t.Skip(liteEndpointEnv + " not set; run scripts/test.sh")
	}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	t.Cleanup(transport.CloseIdleConnections)
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("x", "y", ""),
		HTTPClient:   &http.Client{Transport: transport, Timeout: time.Minute},
	})
}

// liteNameUnsafe matches what a stream name may not hold.
var liteNameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// liteStreamName returns a stream name no other test uses: the test's name
// and a random suffix, so that reruns against a long-lived server never
// find old records.
func liteStreamName(t *testing.T) string {
	t.Helper()
	base := liteNameUnsafe.ReplaceAllString(t.Name(), "-")
	if len(base) > 100 {
		base = base[len(base)-100:]
	}
	return fmt.Sprintf("%s-%016x", strings.Trim(base, "-."), rand.Uint64())
}

// liteCreateStream creates a stream of the given number of shards under a fresh
// name, waits until it is ACTIVE, and deletes it when the test ends (the
// server keeps every record in memory). It returns the name and the open
// shards.
func liteCreateStream(t *testing.T, client *kinesis.Client, shards int) (string, []types.Shard) {
	t.Helper()
	name := liteStreamName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name),
		ShardCount: aws.Int32(int32(shards)),
	})
	require.NoError(t, err, "CreateStream %s", name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := client.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
			t.Logf("DeleteStream %s: %v", name, err)
		}
	})
	liteWaitActive(t, ctx, client, name)
	got := liteListShards(t, client, name)
	require.Len(t, got, shards, "open shards of %s", name)
	return name, got
}

// liteWaitActive polls DescribeStreamSummary until the stream is ACTIVE, for as
// long as ctx allows. A stream's status is the server's state, which no
// event of ours signals, hence the poll.
func liteWaitActive(t *testing.T, ctx context.Context, client *kinesis.Client, name string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		select {
		case <-ctx.Done():
			status := "unknown"
			if err == nil {
				status = string(out.StreamDescriptionSummary.StreamStatus)
			}
			t.Fatalf("stream %s not ACTIVE in time (status %s, last error %v)", name, status, err)
		case <-tick.C:
		}
	}
}

// liteListShards returns the open shards of a stream, following NextToken
// (which, as on AWS, must not come with StreamName).
func liteListShards(t *testing.T, client *kinesis.Client, name string) []types.Shard {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(name)}
	for page := 0; ; page++ {
		require.Less(t, page, 100, "ListShards keeps paging")
		out, err := client.ListShards(ctx, in)
		require.NoError(t, err, "ListShards %s", name)
		for _, s := range out.Shards {
			if s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil {
				shards = append(shards, s)
			}
		}
		if out.NextToken == nil {
			return shards
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// liteRecord is a record read back from a stream.
type liteRecord struct {
	ShardID        string
	SequenceNumber string
	PartitionKey   string
	Data           []byte
}

// liteReadStream reads every record of every open shard from TRIM_HORIZON with
// GetRecords, until a call returns no record and reports the reader caught
// up (MillisBehindLatest 0). Records come shard by shard, in sequence
// number order within a shard.
func liteReadStream(t *testing.T, client *kinesis.Client, name string) []liteRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var recs []liteRecord
	for _, shard := range liteListShards(t, client, name) {
		it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName:        aws.String(name),
			ShardId:           shard.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		require.NoError(t, err, "GetShardIterator %s", aws.ToString(shard.ShardId))
		iter := it.ShardIterator
		for calls := 0; iter != nil; calls++ {
			require.Less(t, calls, 10000, "GetRecords on %s never caught up", aws.ToString(shard.ShardId))
			out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			require.NoError(t, err, "GetRecords %s", aws.ToString(shard.ShardId))
			for _, r := range out.Records {
				recs = append(recs, liteRecord{
					ShardID:        aws.ToString(shard.ShardId),
					SequenceNumber: aws.ToString(r.SequenceNumber),
					PartitionKey:   aws.ToString(r.PartitionKey),
					Data:           r.Data,
				})
			}
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return recs
}

// liteHashKey is the hash key Kinesis routes a partition key by: the MD5 of
// its UTF-8 bytes read as an unsigned 128-bit big-endian integer.
func liteHashKey(partitionKey string) *big.Int {
	sum := md5.Sum([]byte(partitionKey))
	return new(big.Int).SetBytes(sum[:])
}

// liteShardRange is a shard's hash key range, both ends included.
type liteShardRange struct {
	id         string
	start, end *big.Int
}

func liteShardRanges(t *testing.T, shards []types.Shard) map[string]liteShardRange {
	t.Helper()
	m := make(map[string]liteShardRange, len(shards))
	for _, s := range shards {
		require.NotNil(t, s.HashKeyRange, "shard %s has no hash key range", aws.ToString(s.ShardId))
		start, ok1 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		end, ok2 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		require.True(t, ok1 && ok2, "shard %s hash key range %+v", aws.ToString(s.ShardId), s.HashKeyRange)
		m[aws.ToString(s.ShardId)] = liteShardRange{id: aws.ToString(s.ShardId), start: start, end: end}
	}
	return m
}

func (r liteShardRange) contains(hk *big.Int) bool {
	return r.start.Cmp(hk) <= 0 && hk.Cmp(r.end) <= 0
}

// liteSeqNumber parses a sequence number, a decimal string of up to 128 bits.
func liteSeqNumber(t *testing.T, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	require.True(t, ok, "sequence number %q is not a decimal number", s)
	return n
}

// litePutErrors takes every error waiting on the stream's Error channel, which
// after FlushAndStopStreaming holds all the stream will ever report, and
// returns them as PutErrors. Any other error fails the test.
func litePutErrors[T any](t *testing.T, s *inskinesis.Stream[T]) []*inskinesis.PutError[T] {
	t.Helper()
	var out []*inskinesis.PutError[T]
	for {
		select {
		case err := <-s.Error():
			var pe *inskinesis.PutError[T]
			require.True(t, errors.As(err, &pe), "error %v is not a *PutError", err)
			out = append(out, pe)
		default:
			return out
		}
	}
}
