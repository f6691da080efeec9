package kinesistest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestErrorWireFormat(t *testing.T) {
	srv := Start(t)
	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"a missing stream", "POST", "Kinesis_20131202.PutRecords", `{"StreamName":"nope","Records":[{"Data":"eA==","PartitionKey":"k"}]}`, 400, "ResourceNotFoundException"},
		{"malformed JSON", "POST", "Kinesis_20131202.PutRecords", `{"StreamName":`, 400, "SerializationException"},
		{"a wrong JSON type", "POST", "Kinesis_20131202.PutRecords", `{"StreamName":5}`, 400, "SerializationException"},
		{"data that is not base64", "POST", "Kinesis_20131202.PutRecords", `{"StreamName":"s","Records":[{"Data":"!!","PartitionKey":"k"}]}`, 400, "SerializationException"},
		{"an empty body", "POST", "Kinesis_20131202.ListShards", ``, 400, "SerializationException"},
		{"an unknown operation", "POST", "Kinesis_20131202.Frobnicate", `{}`, 400, "UnknownOperationException"},
		{"another service", "POST", "DynamoDB_20120810.ListTables", `{}`, 400, "UnknownOperationException"},
		{"a GET", "GET", "Kinesis_20131202.ListStreams", ``, 400, "UnknownOperationException"},
		{"a missing PartitionKey", "POST", "Kinesis_20131202.PutRecords", `{"StreamName":"s","Records":[{"Data":"eA=="}]}`, 400, "ValidationException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL()+"/", strings.NewReader(tc.body))
			req.Header.Set("X-Amz-Target", tc.target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer http.DefaultClient.CloseIdleConnections()
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got map[string]string
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", body, err)
			}
			if resp.StatusCode != tc.wantStatus || got["__type"] != tc.wantCode || resp.Header.Get("X-Amzn-ErrorType") != tc.wantCode {
				t.Errorf("got %d, __type %q, X-Amzn-ErrorType %q; want %d %s", resp.StatusCode, got["__type"], resp.Header.Get("X-Amzn-ErrorType"), tc.wantStatus, tc.wantCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Errorf("Content-Type = %q", ct)
			}
			if resp.Header.Get("X-Amzn-RequestId") == "" {
				t.Error("no X-Amzn-RequestId")
			}
		})
	}
	if n := srv.Stats().Errors["SerializationException"]; n != 4 {
		t.Errorf("Stats.Errors[SerializationException] = %d, want 4", n)
	}
}

func TestIteratorAndTokenExpiry(t *testing.T) {
	clock := newFakeClock()
	srv := Start(t, WithClock(clock.Now))
	if err := srv.CreateStream("s", 3); err != nil {
		t.Fatal(err)
	}
	c, ctx := srv.Client(noRetries), context.Background()
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(1)})
	if err != nil || page.NextToken == nil {
		t.Fatalf("ListShards: %v, token %v", err, page.NextToken)
	}
	clock.Advance(5 * time.Minute)
	if _, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator}); err != nil {
		t.Fatalf("an iterator of exactly 5 minutes: %v", err)
	}
	clock.Advance(time.Millisecond)
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	var ei *types.ExpiredIteratorException
	if !errors.As(err, &ei) {
		t.Errorf("an iterator of 5 minutes and 1 ms: %v, want *types.ExpiredIteratorException", err)
	}
	_, err = c.ListShards(ctx, &kinesis.ListShardsInput{NextToken: page.NextToken})
	var en *types.ExpiredNextTokenException
	if !errors.As(err, &en) {
		t.Errorf("a NextToken over 300 s old: %v, want *types.ExpiredNextTokenException", err)
	}
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("bm90IGFuIGl0ZXJhdG9yIGF0IGFsbA==")})
	var ia *types.InvalidArgumentException
	if !errors.As(err, &ia) {
		t.Errorf("a made-up iterator: %v, want *types.InvalidArgumentException", err)
	}
}

func TestGetRecordsLimits(t *testing.T) {
	clock := newFakeClock()
	srv := Start(t, WithClock(clock.Now))
	if err := srv.CreateStream("s", 1); err != nil {
		t.Fatal(err)
	}
	c, ctx := srv.Client(noRetries), context.Background()
	var in []types.PutRecordsRequestEntry
	for i := 0; i < 6; i++ {
		key := fmt.Sprintf("k%d", i)
		in = append(in, entry(key, make([]byte, 2*mib-len(key))))
	}
	for _, half := range [][]types.PutRecordsRequestEntry{in[:3], in[3:]} {
		if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: half}); err == nil {
			t.Fatal("2 MiB records accepted on a 1 MiB stream")
		}
	}
	if _, err := c.UpdateMaxRecordSize(ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s"), MaxRecordSizeInKiB: aws.Int32(2048)}); err != nil {
		t.Fatalf("UpdateMaxRecordSize: %v", err)
	}
	for _, half := range [][]types.PutRecordsRequestEntry{in[:3], in[3:]} {
		if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: half}); err != nil {
			t.Fatalf("2 MiB records on a 2 MiB stream: %v", err)
		}
	}
	clock.Advance(3 * time.Second)
	it, _ := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 5 {
		t.Errorf("first GetRecords of 6 records of 2 MiB returned %d, want 5 (10 MiB)", len(out.Records))
	}
	if got := aws.ToInt64(out.MillisBehindLatest); got != 3000 {
		t.Errorf("MillisBehindLatest = %d with records left 3 s old, want 3000", got)
	}
	out, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator, Limit: aws.Int32(10)})
	if err != nil {
		t.Fatalf("second GetRecords: %v", err)
	}
	if len(out.Records) != 1 || aws.ToInt64(out.MillisBehindLatest) != 0 {
		t.Errorf("second GetRecords: %d records, behind %d; want 1 and 0", len(out.Records), aws.ToInt64(out.MillisBehindLatest))
	}
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator, Limit: aws.Int32(10001)})
	wantCode(t, err, "ValidationException")
}

func TestCreateStreamOptions(t *testing.T) {
	srv := Start(t, WithMaxRecordSizeKiB(3072), WithShardQuota(12))
	c, ctx := srv.Client(noRetries), context.Background()
	kib := func(name string) int32 {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToInt32(out.StreamDescriptionSummary.MaxRecordSizeInKiB)
	}
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("dflt"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if got := kib("dflt"); got != 3072 {
		t.Errorf("default MaxRecordSizeInKiB = %d, want 3072 from WithMaxRecordSizeKiB", got)
	}
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("ten"), ShardCount: aws.Int32(1), MaxRecordSizeInKiB: aws.Int32(10240)}); err != nil {
		t.Fatal(err)
	}
	if got := kib("ten"); got != 10240 {
		t.Errorf("MaxRecordSizeInKiB = %d, want 10240", got)
	}
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("x"), ShardCount: aws.Int32(1), MaxRecordSizeInKiB: aws.Int32(1023)})
	wantCode(t, err, "ValidationException")
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("x")})
	wantCode(t, err, "InvalidArgumentException")
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("bad name"), ShardCount: aws.Int32(1)})
	wantCode(t, err, "ValidationException")
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("x"), ShardCount: aws.Int32(0)})
	wantCode(t, err, "ValidationException")
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("od"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatal(err)
	}
	out, _ := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("od")})
	if s := out.StreamDescriptionSummary; aws.ToInt32(s.OpenShardCount) != 4 || s.StreamModeDetails.StreamMode != types.StreamModeOnDemand {
		t.Errorf("ON_DEMAND stream: %d shards, mode %s", aws.ToInt32(s.OpenShardCount), s.StreamModeDetails.StreamMode)
	}
	// 6 of 12 shards are used: 7 more exceed the quota, 6 fit, then a split does not.
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("many"), ShardCount: aws.Int32(7)})
	var le *types.LimitExceededException
	if !errors.As(err, &le) {
		t.Errorf("over the shard quota: %v, want *types.LimitExceededException", err)
	}
	if err := srv.CreateStream("many", 6); err != nil {
		t.Fatal(err)
	}
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("many"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")})
	wantCode(t, err, "LimitExceededException")
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("many")}); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateStream("again", 6); err != nil {
		t.Errorf("DeleteStream did not give its shards back to the quota: %v", err)
	}

	for _, o := range []Option{WithMaxRecordSizeKiB(1023), WithMaxRecordSizeKiB(10241), WithShardQuota(0), WithClock(nil)} {
		if _, err := NewServer(o); err == nil {
			t.Error("an invalid option was accepted")
		}
	}
}

func TestStreamARN(t *testing.T) {
	srv := Start(t)
	if err := srv.CreateStream("by-arn", 2); err != nil {
		t.Fatal(err)
	}
	c, ctx := srv.Client(noRetries), context.Background()
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/by-arn"
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: entries(3, 8)})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords by StreamARN: %v", err)
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(arn)})
	if err != nil || aws.ToString(sum.StreamDescriptionSummary.StreamARN) != arn {
		t.Fatalf("DescribeStreamSummary by StreamARN: %v", err)
	}
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/other"), Records: entries(1, 8)})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestShardIteratorPositions(t *testing.T) {
	clock := newFakeClock()
	srv := Start(t, WithClock(clock.Now))
	if err := srv.CreateStream("s", 2); err != nil {
		t.Fatal(err)
	}
	c, ctx := srv.Client(noRetries), context.Background()
	shards, _ := srv.Shards("s")
	key0 := ""
	for i := 0; key0 == ""; i++ {
		if k := fmt.Sprint("k", i); shards[0].Contains(HashKey(k)) {
			key0 = k
		}
	}
	put := func(data string) string {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String(key0), Data: []byte(data)})
		if err != nil || aws.ToString(out.ShardId) != shards[0].ID {
			t.Fatalf("PutRecord: %v on %s", err, aws.ToString(out.ShardId))
		}
		return aws.ToString(out.SequenceNumber)
	}
	t0 := clock.Now()
	put("first")
	clock.Advance(time.Second)
	put("second")
	iter := func(in *kinesis.GetShardIteratorInput) ([]types.Record, error) {
		in.StreamName = aws.String("s")
		it, err := c.GetShardIterator(ctx, in)
		if err != nil {
			return nil, err
		}
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			return nil, err
		}
		return out.Records, nil
	}
	recs, err := iter(&kinesis.GetShardIteratorInput{ShardId: &shards[0].ID, ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(t0.Add(500 * time.Millisecond))})
	if err != nil || len(recs) != 1 || string(recs[0].Data) != "second" {
		t.Errorf("AT_TIMESTAMP between the two records: %v, %d records", err, len(recs))
	}
	if got := recs[0].ApproximateArrivalTimestamp; got == nil || !got.Equal(t0.Add(time.Second)) {
		t.Errorf("ApproximateArrivalTimestamp = %v, want %v", got, t0.Add(time.Second))
	}
	_, err = iter(&kinesis.GetShardIteratorInput{ShardId: &shards[0].ID, ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(clock.Now().Add(time.Hour))})
	wantCode(t, err, "InvalidArgumentException")
	_, err = iter(&kinesis.GetShardIteratorInput{ShardId: &shards[0].ID, ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber})
	wantCode(t, err, "InvalidArgumentException")
	_, err = iter(&kinesis.GetShardIteratorInput{ShardId: &shards[0].ID, ShardIteratorType: types.ShardIteratorTypeTrimHorizon, StartingSequenceNumber: aws.String("1")})
	wantCode(t, err, "InvalidArgumentException")
	// A sequence number of shard 0 used on shard 1.
	_, err = iter(&kinesis.GetShardIteratorInput{ShardId: &shards[1].ID, ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(shards[0].StartingSequenceNumber)})
	wantCode(t, err, "InvalidArgumentException")
	_, err = iter(&kinesis.GetShardIteratorInput{ShardId: aws.String("shardId-000000000009"), ShardIteratorType: types.ShardIteratorTypeLatest})
	wantCode(t, err, "ResourceNotFoundException")

	// A stream deleted and created again under the same name: old iterators
	// and sequence numbers do not carry over.
	old := put("third")
	it, _ := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: &shards[0].ID, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	wantCode(t, err, "ResourceNotFoundException")
	if err := srv.CreateStream("s", 2); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = iter(&kinesis.GetShardIteratorInput{ShardId: &shards[0].ID, ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: &old})
	wantCode(t, err, "InvalidArgumentException")
}

func TestListShardsFilters(t *testing.T) {
	clock := newFakeClock()
	srv := Start(t, WithClock(clock.Now))
	if err := srv.CreateStream("s", 3); err != nil {
		t.Fatal(err)
	}
	c, ctx := srv.Client(noRetries), context.Background()
	clock.Advance(time.Minute)
	splitAt := clock.Now()
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String("shardId-000000000001"), NewStartingHashKey: aws.String(mustBig(*shardRange(t, srv, 1)).String())}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	ids := func(in *kinesis.ListShardsInput) string {
		in.StreamName = aws.String("s")
		out, err := c.ListShards(ctx, in)
		if err != nil {
			t.Fatalf("ListShards: %v", err)
		}
		var s []string
		for _, sh := range out.Shards {
			s = append(s, strings.TrimPrefix(*sh.ShardId, "shardId-00000000000"))
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name string
		in   *kinesis.ListShardsInput
		want string
	}{
		{"no filter lists all shards", &kinesis.ListShardsInput{}, "0,1,2,3,4"},
		{"AT_LATEST lists the open shards", &kinesis.ListShardsInput{ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}}, "0,2,3,4"},
		{"AT_TRIM_HORIZON lists the shards the stream began with", &kinesis.ListShardsInput{ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}}, "0,1,2"},
		{"FROM_TRIM_HORIZON lists all shards", &kinesis.ListShardsInput{ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}}, "0,1,2,3,4"},
		{"AFTER_SHARD_ID lists the shards after it", &kinesis.ListShardsInput{ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String("shardId-000000000002")}}, "3,4"},
		{"ExclusiveStartShardId lists the shards after it", &kinesis.ListShardsInput{ExclusiveStartShardId: aws.String("shardId-000000000000")}, "1,2,3,4"},
		{"AT_TIMESTAMP before the split lists the shards open then", &kinesis.ListShardsInput{ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(splitAt.Add(-time.Second))}}, "0,1,2"},
		{"FROM_TIMESTAMP after the split leaves out the closed parent", &kinesis.ListShardsInput{ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(splitAt.Add(time.Second))}}, "0,2,3,4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(tc.in); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	_, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp}})
	wantCode(t, err, "InvalidArgumentException")
	_, err = c.ListShards(ctx, &kinesis.ListShardsInput{})
	wantCode(t, err, "InvalidArgumentException")
}

// shardRange returns the middle of a shard's hash key range.
func shardRange(t *testing.T, srv *Server, i int) *string {
	t.Helper()
	shards, err := srv.Shards("s")
	if err != nil {
		t.Fatal(err)
	}
	sh := shards[i]
	mid := sh.StartingHashKey
	mid.Add(mid, sh.EndingHashKey).Rsh(mid, 1)
	return aws.String(mid.String())
}

func TestDescribeStreamListStreamsAndWaiter(t *testing.T) {
	srv := Start(t)
	c, ctx := srv.Client(noRetries), context.Background()
	for _, name := range []string{"b", "a", "c"} {
		if err := srv.CreateStream(name, 3); err != nil {
			t.Fatal(err)
		}
	}
	w := kinesis.NewStreamExistsWaiter(c)
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("a")}, 10*time.Second); err != nil {
		t.Fatalf("StreamExistsWaiter: %v", err)
	}
	d, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("a"), Limit: aws.Int32(2)})
	if err != nil || len(d.StreamDescription.Shards) != 2 || !aws.ToBool(d.StreamDescription.HasMoreShards) {
		t.Fatalf("DescribeStream Limit 2: %v", err)
	}
	d, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("a"), ExclusiveStartShardId: aws.String("shardId-000000000001")})
	if err != nil || len(d.StreamDescription.Shards) != 1 || aws.ToBool(d.StreamDescription.HasMoreShards) {
		t.Fatalf("DescribeStream after shard 1: %v", err)
	}
	var names []string
	p := kinesis.NewListStreamsPaginator(c, &kinesis.ListStreamsInput{Limit: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, out.StreamNames...)
	}
	if fmt.Sprint(names) != "[a b c]" {
		t.Errorf("ListStreams pages = %v, want [a b c]", names)
	}
}

func TestInspectionHelpers(t *testing.T) {
	clock := newFakeClock()
	srv := Start(t, WithClock(clock.Now))
	if err := srv.CreateStream("s", 2); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(noRetries)
	out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), Data: []byte("one")},
		{PartitionKey: aws.String("b"), ExplicitHashKey: aws.String("0"), Data: []byte("two")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := srv.Records("s")
	if err != nil || len(recs) != 2 {
		t.Fatalf("Records: %v, %d", err, len(recs))
	}
	bySeq := map[string]Record{}
	for _, r := range recs {
		bySeq[r.SequenceNumber] = r
		if !r.ArrivalTime.Equal(clock.Now()) {
			t.Errorf("ArrivalTime = %v, want the clock's %v", r.ArrivalTime, clock.Now())
		}
	}
	for i, want := range []struct{ key, ehk, data string }{{"a", "", "one"}, {"b", "0", "two"}} {
		r := bySeq[aws.ToString(out.Records[i].SequenceNumber)]
		if r.PartitionKey != want.key || r.ExplicitHashKey != want.ehk || string(r.Data) != want.data || r.ShardID != aws.ToString(out.Records[i].ShardId) {
			t.Errorf("record %d = %+v", i, r)
		}
	}
	shards, _ := srv.Shards("s")
	if !shards[0].Contains(HashKey("")) && !shards[1].Contains(HashKey("")) {
		t.Error("no shard contains a hash key")
	}
	if shards[0].Records+shards[1].Records != 2 || !shards[0].Open || shards[0].EndingSequenceNumber != "" {
		t.Errorf("shards = %+v", shards)
	}
	one, err := srv.ShardRecords("s", recs[0].ShardID)
	if err != nil || len(one) == 0 || one[0].ShardID != recs[0].ShardID {
		t.Errorf("ShardRecords: %v, %v", err, one)
	}
	if _, err := srv.ShardRecords("s", "shardId-000000000009"); err == nil {
		t.Error("ShardRecords of a missing shard succeeded")
	}
	for _, f := range []func() error{
		func() error { _, err := srv.Records("nope"); return err },
		func() error { _, err := srv.Shards("nope"); return err },
		func() error { _, err := srv.ShardRecords("nope", "0"); return err },
	} {
		if err := f(); !errors.Is(err, ErrStreamNotFound) {
			t.Errorf("err = %v, want ErrStreamNotFound", err)
		}
	}
	for _, bad := range []struct {
		name   string
		shards int
	}{{"s", 1}, {"", 1}, {"has space", 1}, {strings.Repeat("x", 129), 1}, {"zero", 0}} {
		if err := srv.CreateStream(bad.name, bad.shards); err == nil {
			t.Errorf("CreateStream(%q, %d) succeeded", bad.name, bad.shards)
		}
	}
}

// fakeTB records what Start does with its TB.
type fakeTB struct {
	failed   bool
	cleanups []func()
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }
func (f *fakeTB) Cleanup(fn func())     { f.cleanups = append(f.cleanups, fn) }

func (f *fakeTB) runCleanups() {
	for _, fn := range f.cleanups {
		fn()
	}
}

var _ TB = (*testing.T)(nil)

func TestStart(t *testing.T) {
	var bad fakeTB
	if srv := Start(&bad, WithShardQuota(-1)); srv != nil || !bad.failed {
		t.Errorf("Start with an invalid option: server %v, failed %v", srv, bad.failed)
	}
	var good fakeTB
	srv := Start(&good)
	if good.failed || len(good.cleanups) != 1 {
		t.Fatalf("Start: failed %v, %d cleanups", good.failed, len(good.cleanups))
	}
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Errorf("URL = %s, want loopback", srv.URL())
	}
	good.runCleanups()
	if _, err := srv.Client(noRetries).ListStreams(context.Background(), &kinesis.ListStreamsInput{}); err == nil {
		t.Error("the server still answers after its cleanup ran")
	}
}

// TestLargeResponsesThroughTheSDK reads responses of several MB many times
// through the client of Server.Client. Without the request body wrapping of
// Server.HTTPClient, the SDK's early close of a request body often made
// net/http close the connection under such a response (about one run in
// three of a sequence like this one on a 2-core machine).
func TestLargeResponsesThroughTheSDK(t *testing.T) {
	srv := Start(t, WithMaxRecordSizeKiB(2048))
	readLargeResponses(t, srv, srv.Client(noRetries), 10)
}

func readLargeResponses(t *testing.T, srv *Server, c *kinesis.Client, n int) {
	t.Helper()
	if err := srv.CreateStream("large", 1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var in []types.PutRecordsRequestEntry
	for i := 0; i < 3; i++ {
		in = append(in, entry("k", make([]byte, 2*mib-1)))
	}
	if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("large"), Records: in}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("large"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("GetShardIterator %d: %v", i, err)
		}
		iter := it.ShardIterator
		for _, limit := range []int32{2, 1} {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(limit)})
			if err != nil {
				t.Fatalf("GetRecords %d: %v", i, err)
			}
			if len(out.Records) != int(limit) {
				t.Fatalf("GetRecords %d returned %d records, want %d", i, len(out.Records), limit)
			}
			iter = out.NextShardIterator
		}
	}
}
