package inskinesis_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkg/inskinesis"
	protocodec "github.com/go-pkg/inskinesis/codec/proto"
	"github.com/go-pkg/inskinesis/internal/testpb"
	"github.com/go-pkg/inskinesis/kinesistest"
	"github.com/go-pkg/inskinesis/partition"
)

// putEvents puts events with PutSync on a fresh stream of cfg and returns
// their results. A fresh stream has no pooled buffers, so a record that
// encodes to nothing has nil data.
func putEvents(t *testing.T, cfg inskinesis.Config[*testpb.Event], events ...*testpb.Event) []inskinesis.Result[*testpb.Event] {
	t.Helper()
	s, err := inskinesis.NewKinesis(cfg)
	require.NoError(t, err)
	defer s.FlushAndStopStreaming()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.PutSync(ctx, events...)
}

func eventConfig(stream string, client inskinesis.PutRecordsAPI) inskinesis.Config[*testpb.Event] {
	return inskinesis.Config[*testpb.Event]{
		StreamName:    stream,
		Client:        client,
		Codec:         protocodec.Codec[*testpb.Event]{},
		Partitioner:   partition.Static[*testpb.Event]("k"),
		RetryInterval: time.Millisecond,
	}
}

// TestEmptyRecordIsDelivered: a record that encodes to zero bytes (an
// all-default protobuf message) is legal for Kinesis and is delivered, and
// does not take the records of its call down with it.
func TestEmptyRecordIsDelivered(t *testing.T) {
	srv := kinesistest.Start(t)
	require.NoError(t, srv.CreateStream("empty", 1))
	results := putEvents(t, eventConfig("empty", srv.Client()), &testpb.Event{}, &testpb.Event{Id: "1"})
	for i, r := range results {
		require.NoError(t, r.Err, "record %d", i)
		assert.Equal(t, 1, r.Attempts, "record %d", i)
		assert.False(t, r.MaybeDuplicate, "record %d", i)
	}
	stored, err := srv.Records("empty")
	require.NoError(t, err)
	require.Len(t, stored, 2)
	assert.Empty(t, stored[0].Data)
	assert.NotEmpty(t, stored[1].Data)
}

// failingCredentials is a credentials provider that always fails, counting
// its calls.
type failingCredentials struct {
	err   error
	calls atomic.Int64
}

func (f *failingCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	f.calls.Add(1)
	return aws.Credentials{}, f.err
}

// TestCallsTheSDKRefusesAreNotSent: a call that the real SDK client fails
// before sending (no credentials, an endpoint it cannot build) wrote
// nothing: its records are not MaybeWritten, and it is retried only when a
// retry can heal it.
func TestCallsTheSDKRefusesAreNotSent(t *testing.T) {
	tests := []struct {
		name      string
		opts      func(*kinesis.Options)
		code      string
		attempts  int // with RetryCount 2
		exhausted bool
	}{
		{
			name: "a credentials provider that fails is retried",
			opts: func(o *kinesis.Options) {
				o.Credentials = &failingCredentials{err: errors.New("metadata endpoint unreachable")}
			},
			code:      "CredentialsError",
			attempts:  3,
			exhausted: true,
		},
		{
			name:     "empty static credentials are not retried",
			opts:     func(o *kinesis.Options) { o.Credentials = credentials.NewStaticCredentialsProvider("", "", "") },
			code:     "CredentialsError",
			attempts: 1,
		},
		{
			name:     "an endpoint the SDK cannot use is not retried",
			opts:     func(o *kinesis.Options) { o.BaseEndpoint = aws.String("http://[::1") },
			code:     "RequestNotBuilt",
			attempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := kinesistest.Start(t)
			require.NoError(t, srv.CreateStream("refused", 1))
			cfg := eventConfig("refused", srv.Client(tt.opts))
			cfg.RetryCount = 2
			results := putEvents(t, cfg, &testpb.Event{Id: "1"}, &testpb.Event{Id: "2"})
			for _, r := range results {
				var pe *inskinesis.PutError[*testpb.Event]
				require.ErrorAs(t, r.Err, &pe)
				assert.Equal(t, tt.code, pe.Code)
				assert.False(t, pe.MaybeWritten, "nothing was sent")
				assert.False(t, r.MaybeDuplicate)
				assert.Equal(t, tt.attempts, r.Attempts)
				assert.Equal(t, tt.exhausted, errors.Is(r.Err, inskinesis.ErrRetriesExhausted))
			}
			assert.Zero(t, srv.Stats().WriteRequests, "the SDK sent nothing")
		})
	}
}

// TestExhaustedMessageCountsOnce: the message of records that exhausted
// their retries states the stream's count of attempts, not the SDK's own
// retry wrapper ("exceeded maximum number of attempts, 1"), while the
// SDK's error stays reachable with errors.As.
func TestExhaustedMessageCountsOnce(t *testing.T) {
	srv := kinesistest.Start(t, kinesistest.WithFaults(kinesistest.Faults{
		RequestErrorRate: 1,
		RequestErrors:    []kinesistest.RequestError{kinesistest.RequestInternalFailure},
	}))
	require.NoError(t, srv.CreateStream("exhausted", 1))
	cfg := eventConfig("exhausted", srv.Client())
	cfg.RetryCount = 2
	results := putEvents(t, cfg, &testpb.Event{Id: "1"})
	err := results[0].Err
	require.ErrorIs(t, err, inskinesis.ErrRetriesExhausted)
	msg := err.Error()
	assert.Contains(t, msg, "after 3 attempts")
	assert.NotContains(t, msg, "maximum number of attempts")
	assert.Equal(t, 1, strings.Count(msg, "attempts"), "one count of attempts: %s", msg)
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "InternalFailure", apiErr.ErrorCode())
	var maxErr *sdkretry.MaxAttemptsError
	assert.ErrorAs(t, err, &maxErr, "the SDK's error is wrapped whole")
}

// bodyRecorder is an HTTP client for the SDK that notes whether the request
// bodies it is given expose WriteTo, and passes them on.
type bodyRecorder struct {
	next           aws.HTTPClient
	calls, writeTo atomic.Int64
	lists          atomic.Int64 // ListShards calls
}

func (b *bodyRecorder) Do(r *http.Request) (*http.Response, error) {
	b.calls.Add(1)
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".ListShards") {
		b.lists.Add(1)
	}
	if _, ok := r.Body.(io.WriterTo); ok {
		b.writeTo.Add(1)
	}
	return b.next.Do(r)
}

// TestOwnClientGetsTheTransportWorkaround: a *kinesis.Client built without
// HTTPClient still has request bodies' WriteTo hidden in the stream's
// PutRecords, ListShards and DescribeStreamSummary calls, and one built with it is not wrapped
// twice.
func TestOwnClientGetsTheTransportWorkaround(t *testing.T) {
	for _, wrapped := range []bool{false, true} {
		t.Run(fmt.Sprintf("wrapped=%v", wrapped), func(t *testing.T) {
			srv := kinesistest.Start(t)
			require.NoError(t, srv.CreateStream("transport", 1))
			rec := &bodyRecorder{next: srv.HTTPClient()}
			client := srv.Client(func(o *kinesis.Options) {
				o.HTTPClient = rec
				if wrapped {
					o.HTTPClient = inskinesis.HTTPClient(rec)
				}
			})
			cfg := eventConfig("transport", client)
			cfg.AggregateRecords = true // the stream's ListShards calls too
			results := putEvents(t, cfg, &testpb.Event{Id: "1"}, &testpb.Event{Id: "2"})
			for _, r := range results {
				require.NoError(t, r.Err)
			}
			assert.Positive(t, rec.calls.Load())
			assert.Positive(t, rec.lists.Load(), "the stream read the shard map")
			assert.Zero(t, rec.writeTo.Load(), "request bodies reach the HTTP client without WriteTo")

			// The client's own calls are untouched.
			_, err := client.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("transport")})
			require.NoError(t, err)
			if !wrapped {
				assert.Positive(t, rec.writeTo.Load(), "the stream changes only its own calls")
			}
		})
	}
}
