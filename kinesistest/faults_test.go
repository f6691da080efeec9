package kinesistest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.uber.org/goleak"
)

// faultRun sends a fixed sequence of PutRecords requests and describes each
// outcome: a request error code (and HTTP status), or each record's code.
func faultRun(t *testing.T, srv *Server, requests int) []string {
	t.Helper()
	c := srv.Client(noRetries)
	var out []string
	for i := 0; i < requests; i++ {
		res, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(20, 8)})
		if err != nil {
			var re *awshttp.ResponseError
			status := 0
			if errors.As(err, &re) {
				status = re.HTTPStatusCode()
			}
			code := apiCode(err)
			if code == "" {
				code = "transport"
			}
			out = append(out, fmt.Sprintf("%s/%d", code, status))
			continue
		}
		var b strings.Builder
		for _, r := range res.Records {
			switch aws.ToString(r.ErrorCode) {
			case "":
				b.WriteByte('.')
			case "InternalFailure":
				b.WriteByte('F')
			default:
				b.WriteByte('?')
			}
		}
		out = append(out, b.String())
	}
	return out
}

func faultServer(t *testing.T, f Faults) *Server {
	t.Helper()
	srv := Start(t, WithFaults(f))
	if err := srv.CreateStream("s", 3); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestFaultsAreDeterministic(t *testing.T) {
	f := Faults{Seed: 42, RecordFailureRate: 0.2, RequestErrorRate: 0.2}
	a := faultRun(t, faultServer(t, f), 40)
	b := faultRun(t, faultServer(t, f), 40)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different outcomes:\n%v\n%v", a, b)
	}
	f.Seed = 43
	if c := faultRun(t, faultServer(t, f), 40); fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatalf("seeds 42 and 43 gave the same 40 outcomes")
	}

	// SetFaults reseeds: the same sequence then repeats on one server.
	srv := faultServer(t, Faults{Seed: 42, RecordFailureRate: 0.2, RequestErrorRate: 0.2})
	first := faultRun(t, srv, 40)
	if err := srv.SetFaults(Faults{Seed: 42, RecordFailureRate: 0.2, RequestErrorRate: 0.2}); err != nil {
		t.Fatal(err)
	}
	if again := faultRun(t, srv, 40); fmt.Sprint(first) != fmt.Sprint(again) {
		t.Fatalf("SetFaults with the same seed did not repeat the outcomes")
	}
}

func TestFaultsOutcomes(t *testing.T) {
	srv := faultServer(t, Faults{Seed: 7, RecordFailureRate: 0.25, RequestErrorRate: 0.3})
	res := faultRun(t, srv, 100)
	codes := map[string]int{}
	okRecords, failedRecords := 0, 0
	for _, r := range res {
		if strings.Contains(r, "/") {
			codes[r]++
			continue
		}
		okRecords += strings.Count(r, ".")
		failedRecords += strings.Count(r, "F")
	}
	for _, want := range []string{"InternalFailure/500", "ServiceUnavailable/503", "ProvisionedThroughputExceededException/400", "LimitExceededException/400"} {
		if codes[want] == 0 {
			t.Errorf("no request failed with %s in 100 requests at rate 0.3: %v", want, codes)
		}
	}
	failedReqs := 0
	for _, n := range codes {
		failedReqs += n
	}
	// The seed fixes these counts; the bounds only check that the rates are
	// applied at all and roughly as asked.
	if failedReqs < 15 || failedReqs > 45 {
		t.Errorf("%d of 100 requests failed at rate 0.3", failedReqs)
	}
	total := okRecords + failedRecords
	if failedRecords < total/8 || failedRecords > total/2 {
		t.Errorf("%d of %d records failed at rate 0.25", failedRecords, total)
	}
	recs, _ := srv.Records("s")
	st := srv.Stats()
	if len(recs) != okRecords || st.RecordsAccepted != int64(okRecords) {
		t.Errorf("stored %d, Stats.RecordsAccepted %d, successes answered %d: failed records must not be stored", len(recs), st.RecordsAccepted, okRecords)
	}
	if st.RecordsInternalFailure != int64(failedRecords) || st.InjectedRequestErrors != int64(failedReqs) || st.RecordsInFailedRequests != int64(20*failedReqs) {
		t.Errorf("stats = %+v; want %d internal failures, %d injected request errors", st, failedRecords, failedReqs)
	}
	if st.WriteRequests != 100 || st.Errors["InternalFailure"] != int64(codes["InternalFailure/500"]) {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultsRequestErrorsRestricted(t *testing.T) {
	srv := faultServer(t, Faults{RequestErrorRate: 1, RequestErrors: []RequestError{RequestLimitExceeded}})
	_, err := srv.Client(noRetries).PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(3, 8)})
	var le *types.LimitExceededException
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want *types.LimitExceededException", err)
	}
}

func TestFaultsApplyToWritesOnlyAfterValidation(t *testing.T) {
	srv := faultServer(t, Faults{RequestErrorRate: 1, RecordFailureRate: 1, DropConnectionRate: 1, Latency: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := srv.Client(noRetries)
	if _, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")}); err != nil {
		t.Errorf("ListShards: %v", err)
	}
	if _, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")}); err != nil {
		t.Errorf("DescribeStreamSummary: %v", err)
	}
	_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(501, 8)})
	wantCode(t, err, "ValidationException")
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("missing"), Records: entries(1, 8)})
	wantCode(t, err, "ResourceNotFoundException")
	if st := srv.Stats(); st.DroppedBeforeWrite != 0 || st.InjectedRequestErrors != 0 {
		t.Errorf("faults were drawn for invalid requests: %+v", st)
	}
}

func TestFaultsPutRecord(t *testing.T) {
	srv := faultServer(t, Faults{RecordFailureRate: 1})
	_, err := srv.Client(noRetries).PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("x")})
	wantCode(t, err, "InternalFailure")
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Errorf("PutRecord with a record failure: %v, want HTTP 500", err)
	}
	if recs, _ := srv.Records("s"); len(recs) != 0 {
		t.Errorf("a failed PutRecord stored %d records", len(recs))
	}
}

func TestDroppedConnections(t *testing.T) {
	tests := []struct {
		name       string
		faults     Faults
		wantStored int
		check      func(st Stats) bool
	}{
		{
			name: "a drop before the write stores nothing", faults: Faults{DropConnectionRate: 1}, wantStored: 0,
			check: func(st Stats) bool {
				return st.DroppedBeforeWrite == 1 && st.DroppedAfterWrite == 0 && st.RecordsInFailedRequests == 5
			},
		},
		{
			name: "a drop after the write stores the records", faults: Faults{DropAfterWriteRate: 1}, wantStored: 5,
			check: func(st Stats) bool {
				return st.DroppedAfterWrite == 1 && st.RecordsWrittenThenDropped == 5 && st.RecordsAccepted == 5
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := faultServer(t, tc.faults)
			_, err := srv.Client(noRetries).PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(5, 8)})
			if err == nil {
				t.Fatal("the SDK saw no error for a dropped connection")
			}
			if code := apiCode(err); code != "" {
				t.Errorf("a dropped connection gave the API error %s, want a transport error", code)
			}
			recs, _ := srv.Records("s")
			if len(recs) != tc.wantStored {
				t.Errorf("stored %d records, want %d", len(recs), tc.wantStored)
			}
			if st := srv.Stats(); !tc.check(st) {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestDropAfterWriteWithSDKRetriesWritesDuplicates(t *testing.T) {
	srv := faultServer(t, Faults{DropAfterWriteRate: 1})
	c := srv.Client(func(o *kinesis.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	})
	_, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(4, 8)})
	if err == nil {
		t.Fatal("no error after three dropped connections")
	}
	recs, _ := srv.Records("s")
	if len(recs) != 12 {
		t.Fatalf("stored %d records, want 4 records written 3 times", len(recs))
	}
	if st := srv.Stats(); st.DroppedAfterWrite != 3 || st.RecordsWrittenThenDropped != 12 {
		t.Errorf("stats = %+v", st)
	}
}

func TestLatency(t *testing.T) {
	const lat = 80 * time.Millisecond
	srv := faultServer(t, Faults{Latency: lat})
	c := srv.Client(noRetries)
	start := time.Now()
	if _, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(1, 8)}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < lat {
		t.Errorf("PutRecords took %v with Latency %v", el, lat)
	}
	start = time.Now()
	if _, err := c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < lat {
		t.Errorf("PutRecord took %v with Latency %v", el, lat)
	}
}

func TestCloseEndsLatencyWaits(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv, err := NewServer(WithFaults(Faults{Latency: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateStream("s", 1); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(noRetries)
	done := make(chan error, 1)
	go func() {
		_, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(2, 8)})
		done <- err
	}()
	// Wait until the request is inside the server, waiting on its latency.
	for deadline := time.Now().Add(10 * time.Second); srv.Stats().WriteRequests == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the server")
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a request waiting on Latency")
	}
	if err := <-done; err == nil {
		t.Error("a request cut short by Close succeeded")
	}
	if recs, _ := srv.Records("s"); len(recs) != 0 {
		t.Errorf("a request cut short by Close stored %d records", len(recs))
	}
	if _, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")}); err == nil {
		t.Error("a closed server answered")
	}
	srv.Close() // a second Close is harmless
}

func TestFaultsValidation(t *testing.T) {
	bad := []Faults{
		{RecordFailureRate: -0.1},
		{RequestErrorRate: 1.5},
		{DropConnectionRate: 2},
		{DropAfterWriteRate: -1},
		{Latency: -time.Second},
		{RequestErrors: []RequestError{"Nope"}},
	}
	srv := Start(t)
	for _, f := range bad {
		if _, err := NewServer(WithFaults(f)); err == nil {
			t.Errorf("WithFaults(%+v) accepted", f)
		}
		if err := srv.SetFaults(f); err == nil {
			t.Errorf("SetFaults(%+v) accepted", f)
		}
	}
}
