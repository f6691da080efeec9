package kinesistest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// throttleEnv is a server with AWS's shard limits on a clock the test moves.
type throttleEnv struct {
	srv   *Server
	clock *fakeClock
	c     *kinesis.Client
	ctx   context.Context
}

func newThrottleEnv(t *testing.T, opts ...Option) *throttleEnv {
	clock := newFakeClock()
	srv := Start(t, append([]Option{WithClock(clock.Now), WithShardLimits(AWSShardLimits())}, opts...)...)
	return &throttleEnv{srv: srv, clock: clock, c: srv.Client(noRetries), ctx: context.Background()}
}

// put sends records of the given sizes (data plus key bytes) to the stream
// and returns "ok" or the error code of each, in order.
func (e *throttleEnv) put(t *testing.T, stream string, sizes ...int) []string {
	t.Helper()
	var in []types.PutRecordsRequestEntry
	for i, size := range sizes {
		key := fmt.Sprintf("k%03d", i%1000)
		in = append(in, entry(key, make([]byte, size-len(key))))
	}
	out, err := e.c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: in})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	res := make([]string, len(out.Records))
	failed := 0
	for i, r := range out.Records {
		res[i] = "ok"
		if r.ErrorCode != nil {
			res[i] = *r.ErrorCode
			failed++
			if r.SequenceNumber != nil || r.ShardId != nil {
				t.Errorf("record %d failed but has a sequence number or shard", i)
			}
		}
	}
	if int(aws.ToInt32(out.FailedRecordCount)) != failed {
		t.Errorf("FailedRecordCount = %d, but %d entries carry an ErrorCode", aws.ToInt32(out.FailedRecordCount), failed)
	}
	return res
}

func repeat(n, size int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = size
	}
	return out
}

func count(res []string, code string) int {
	n := 0
	for _, r := range res {
		if r == code {
			n++
		}
	}
	return n
}

const pte = "ProvisionedThroughputExceededException"

func TestShardLimitsRecordsPerSecond(t *testing.T) {
	e := newThrottleEnv(t)
	if err := e.srv.CreateStream("s", 1); err != nil {
		t.Fatal(err)
	}
	if res := e.put(t, "s", repeat(500, 5)...); count(res, "ok") != 500 {
		t.Fatalf("first 500 records: %d accepted", count(res, "ok"))
	}
	if res := e.put(t, "s", repeat(400, 5)...); count(res, "ok") != 400 {
		t.Fatalf("records 501..900: %d accepted", count(res, "ok"))
	}
	res := e.put(t, "s", repeat(101, 5)...)
	if count(res, "ok") != 100 || res[100] != pte {
		t.Fatalf("records 901..1001 in the same instant: %d accepted, last = %s; want 100 and a throttle", count(res, "ok"), res[100])
	}
	e.clock.Advance(time.Millisecond) // 1000 records/s refills one record a millisecond
	if res := e.put(t, "s", 5, 5); res[0] != "ok" || res[1] != pte {
		t.Fatalf("after 1 ms: %v, want [ok %s]", res, pte)
	}
	e.clock.Advance(time.Second)
	if res := e.put(t, "s", repeat(500, 5)...); count(res, "ok") != 500 {
		t.Fatalf("after a second: %d of 500 accepted", count(res, "ok"))
	}
	recs, err := e.srv.Records("s")
	if err != nil {
		t.Fatal(err)
	}
	if st := e.srv.Stats(); len(recs) != 1501 || st.RecordsAccepted != 1501 || st.RecordsThrottled != 2 {
		t.Errorf("stored %d, stats accepted %d throttled %d; want 1501, 1501, 2", len(recs), st.RecordsAccepted, st.RecordsThrottled)
	}
}

func TestShardLimitsBytesPerSecond(t *testing.T) {
	e := newThrottleEnv(t)
	if err := e.srv.CreateStream("s", 1); err != nil {
		t.Fatal(err)
	}
	const size = 100 << 10 // data plus key
	res := e.put(t, "s", repeat(12, size)...)
	want := []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", pte, pte}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Fatalf("12 records of 100 KiB at once: %v, want 10 accepted (1 MiB/s) then throttles", res)
	}
	// 24 KiB are left; 76 KiB more take 76/1024 s = 74.2 ms.
	e.clock.Advance(74 * time.Millisecond)
	if res := e.put(t, "s", size); res[0] != pte {
		t.Fatalf("after 74 ms: %v, want a throttle", res)
	}
	e.clock.Advance(time.Millisecond)
	if res := e.put(t, "s", size); res[0] != "ok" {
		t.Fatalf("after 75 ms: %v, want ok", res)
	}
}

func TestShardLimitsMessageAndPerShard(t *testing.T) {
	e := newThrottleEnv(t)
	if err := e.srv.CreateStream("two", 2); err != nil {
		t.Fatal(err)
	}
	shards, _ := e.srv.Shards("two")
	// Keys of shard 0 only, then one of shard 1.
	var k0, k1 []string
	for i := 0; len(k0) < 1001 || len(k1) < 1; i++ {
		k := fmt.Sprintf("key-%d", i)
		if shards[0].Contains(HashKey(k)) {
			k0 = append(k0, k)
		} else {
			k1 = append(k1, k)
		}
	}
	send := func(keys []string) *kinesis.PutRecordsOutput {
		var in []types.PutRecordsRequestEntry
		for _, k := range keys {
			in = append(in, entry(k, []byte("x")))
		}
		out, err := e.c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("two"), Records: in})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	send(k0[:500])
	send(k0[500:1000])
	out := send([]string{k0[1000], k1[0]})
	r0, r1 := out.Records[0], out.Records[1]
	wantMsg := "Rate exceeded for shard shardId-000000000000 in stream two under account 000000000000."
	if aws.ToString(r0.ErrorCode) != pte || aws.ToString(r0.ErrorMessage) != wantMsg {
		t.Errorf("shard 0's 1001st record: %v %v, want %s %q", aws.ToString(r0.ErrorCode), aws.ToString(r0.ErrorMessage), pte, wantMsg)
	}
	if r1.ErrorCode != nil || aws.ToString(r1.ShardId) != "shardId-000000000001" {
		t.Errorf("shard 1 is throttled by shard 0's traffic: %v", aws.ToString(r1.ErrorCode))
	}
	if aws.ToInt32(out.FailedRecordCount) != 1 {
		t.Errorf("FailedRecordCount = %d, want 1", aws.ToInt32(out.FailedRecordCount))
	}
}

func TestShardLimitsPutRecord(t *testing.T) {
	e := newThrottleEnv(t)
	if err := e.srv.CreateStream("s", 1); err != nil {
		t.Fatal(err)
	}
	e.put(t, "s", repeat(500, 5)...)
	e.put(t, "s", repeat(500, 5)...)
	_, err := e.c.PutRecord(e.ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("x")})
	var pt *types.ProvisionedThroughputExceededException
	if !errors.As(err, &pt) {
		t.Fatalf("PutRecord over the limit: %v, want *types.ProvisionedThroughputExceededException", err)
	}
	e.clock.Advance(time.Millisecond)
	if _, err := e.c.PutRecord(e.ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatalf("PutRecord after a refill: %v", err)
	}
}

func TestShardLimitsLargeRecordDebt(t *testing.T) {
	e := newThrottleEnv(t, WithMaxRecordSizeKiB(10240))
	if err := e.srv.CreateStream("big", 1); err != nil {
		t.Fatal(err)
	}
	// A 5 MiB record is admitted from a full 1 MiB bucket and leaves 4 MiB of
	// debt: four seconds at 1 MiB/s before the bucket is back at zero.
	if res := e.put(t, "big", 5<<20); res[0] != "ok" {
		t.Fatalf("a 5 MiB record on a full bucket: %v", res)
	}
	e.clock.Advance(4 * time.Second)
	if res := e.put(t, "big", 10); res[0] != pte {
		t.Fatalf("after 4 s: %v, want a throttle (the bucket is at 0)", res)
	}
	e.clock.Advance(time.Millisecond)
	if res := e.put(t, "big", 10); res[0] != "ok" {
		t.Fatalf("after 4.001 s: %v, want ok", res)
	}
}

func TestShardLimitsOffByDefault(t *testing.T) {
	clock := newFakeClock() // never moves
	srv := Start(t, WithClock(clock.Now))
	if err := srv.CreateStream("s", 1); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(noRetries)
	for i := 0; i < 5; i++ {
		out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(500, 1000)})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("request %d: err %v, failed %d", i, err, aws.ToInt32(out.FailedRecordCount))
		}
	}
}

func TestShardLimitsOptionValidation(t *testing.T) {
	for _, l := range []ShardLimits{{BytesPerSecond: -1}, {RecordsPerSecond: -5}, {BytesPerSecond: 1e10}} {
		if _, err := NewServer(WithShardLimits(l)); err == nil {
			t.Errorf("WithShardLimits(%+v) accepted", l)
		}
	}
}
