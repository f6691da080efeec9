package inskinesis

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// capturedCall is what a server saw of one call.
type capturedCall struct {
	header http.Header
	body   []byte
}

// TestPutProtocolWritesTheSDKsRequest: a PutRecords call with the stream's
// options (callOptions, whose protocol writes the body itself) sends the
// same request as the SDK alone: method, path, target and content type, and
// a body that reads back to the same JSON.
func TestPutProtocolWritesTheSDKsRequest(t *testing.T) {
	var mu sync.Mutex
	var calls []capturedCall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, capturedCall{header: r.Header.Clone(), body: body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/", r.URL.Path)
		var in struct{ Records []json.RawMessage }
		assert.NoError(t, json.Unmarshal(body, &in))
		out := `{"FailedRecordCount":0,"Records":[` + strings.TrimSuffix(strings.Repeat(`{"SequenceNumber":"1","ShardId":"shardId-000000000000"},`, len(in.Records)), ",") + `]}`
		_, _ = w.Write([]byte(out))
	}))
	defer srv.Close()
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("x", "y", ""),
	})
	in := &kinesis.PutRecordsInput{
		StreamName: aws.String("orders"),
		StreamARN:  aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/orders"),
		Records: []types.PutRecordsRequestEntry{
			{Data: []byte("hello"), PartitionKey: aws.String("k1")},
			{Data: []byte{}, PartitionKey: aws.String(`quote " and \ and ünïcødé 🙂`), ExplicitHashKey: aws.String("42")},
			{Data: []byte{0, 0xff, 0x10}, PartitionKey: aws.String("tab\tline\n")},
		},
	}
	ctx := context.Background()
	_, err := client.PutRecords(ctx, in)
	require.NoError(t, err)
	_, err = client.PutRecords(ctx, in, callOptions)
	require.NoError(t, err)
	require.Len(t, calls, 2)
	sdk, ours := calls[0], calls[1]
	// Every header but those that differ from call to call, or with the
	// body's length and hash (the signature covers both).
	perCall := []string{"Authorization", "Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "User-Agent", "X-Amz-Date", "Content-Length", "X-Amz-Content-Sha256"}
	for h := range sdk.header {
		if !slices.Contains(perCall, h) {
			assert.Equal(t, sdk.header.Values(h), ours.header.Values(h), h)
		}
	}
	for h := range ours.header {
		assert.Contains(t, sdk.header, h, "a header the SDK does not send")
	}
	assert.Equal(t, "Kinesis_20131202.PutRecords", ours.header.Get("X-Amz-Target"))
	var a, b any
	require.NoError(t, json.Unmarshal(sdk.body, &a))
	require.NoError(t, json.Unmarshal(ours.body, &b))
	assert.Equal(t, a, b, "SDK: %s\nours: %s", sdk.body, ours.body)

	// A field the stream's body does not write goes through the SDK.
	dry := *in
	dry.DryRun = aws.Bool(true)
	_, err = client.PutRecords(ctx, &dry, callOptions)
	require.NoError(t, err)
	require.Len(t, calls, 3)
	assert.Contains(t, string(calls[2].body), `"DryRun":true`)
}
