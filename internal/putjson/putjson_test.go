package putjson

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wire is the body as the service reads it: encoding/json decodes Data
// from base64.
type wire struct {
	Records []struct {
		Data            []byte
		ExplicitHashKey *string
		PartitionKey    *string
	}
	StreamARN  *string
	StreamName *string
}

func TestAppendReadsBack(t *testing.T) {
	tests := []struct {
		name string
		in   kinesis.PutRecordsInput
	}{
		{"empty", kinesis.PutRecordsInput{}},
		{"no records", kinesis.PutRecordsInput{Records: []types.PutRecordsRequestEntry{}, StreamName: aws.String("s")}},
		{"plain", kinesis.PutRecordsInput{StreamName: aws.String("orders"), Records: []types.PutRecordsRequestEntry{
			{Data: []byte("hello"), PartitionKey: aws.String("k1")},
			{Data: []byte{}, PartitionKey: aws.String("k2"), ExplicitHashKey: aws.String("340282366920938463463374607431768211455")},
			{Data: []byte{0, 1, 2, 250, 251}, PartitionKey: aws.String("k3")},
		}}},
		{"arn only", kinesis.PutRecordsInput{StreamARN: aws.String("arn:aws:kinesis:eu-west-1:123456789012:stream/orders"), Records: []types.PutRecordsRequestEntry{
			{Data: []byte("x"), PartitionKey: aws.String("k")},
		}}},
		{"keys to escape", kinesis.PutRecordsInput{StreamName: aws.String("s"), StreamARN: aws.String("a"), Records: []types.PutRecordsRequestEntry{
			{Data: []byte("a"), PartitionKey: aws.String(`quote " back \ slash`)},
			{Data: []byte("b"), PartitionKey: aws.String("tab\tnew\nline\rcr\x00nul\x1funit\x7fdel")},
			{Data: []byte("c"), PartitionKey: aws.String("ünïcødé 日本語 🙂 \u2028\u2029 <&>")},
		}}},
		{"no data, no key", kinesis.PutRecordsInput{Records: []types.PutRecordsRequestEntry{{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := Append(nil, &tt.in)
			require.True(t, json.Valid(body), "%s", body)
			var got wire
			require.NoError(t, json.Unmarshal(body, &got))
			assert.Equal(t, tt.in.StreamName, got.StreamName)
			assert.Equal(t, tt.in.StreamARN, got.StreamARN)
			require.Len(t, got.Records, len(tt.in.Records))
			for i, e := range tt.in.Records {
				g := got.Records[i]
				if e.Data == nil {
					assert.Nil(t, g.Data)
				} else {
					assert.Equal(t, string(e.Data), string(g.Data))
				}
				assert.Equal(t, e.PartitionKey, g.PartitionKey)
				assert.Equal(t, e.ExplicitHashKey, g.ExplicitHashKey)
			}
			if !strings.Contains(tt.name, "escape") {
				assert.GreaterOrEqual(t, Size(&tt.in), len(body), "Size covers the body when nothing is escaped")
			}
		})
	}
}

func TestInvalidUTF8Replaced(t *testing.T) {
	in := kinesis.PutRecordsInput{Records: []types.PutRecordsRequestEntry{{Data: []byte("d"), PartitionKey: aws.String("a\xffb\xfe\xfdc")}}}
	body := Append(nil, &in)
	require.True(t, json.Valid(body), "%s", body)
	var got wire
	require.NoError(t, json.Unmarshal(body, &got))
	assert.Equal(t, "a\uFFFDb\uFFFD\uFFFDc", *got.Records[0].PartitionKey, "each byte that is not UTF-8 becomes U+FFFD, as encoding/json does")
}

func TestSupported(t *testing.T) {
	assert.True(t, Supported(&kinesis.PutRecordsInput{StreamName: aws.String("s")}))
	assert.False(t, Supported(&kinesis.PutRecordsInput{DryRun: aws.Bool(true)}), "fields Append does not write go to the SDK")
	assert.False(t, Supported(&kinesis.PutRecordsInput{StreamId: aws.String("id")}))
}

func BenchmarkAppend(b *testing.B) {
	in := kinesis.PutRecordsInput{StreamName: aws.String("bench")}
	data := []byte(strings.Repeat("x", 100))
	for range 500 {
		in.Records = append(in.Records, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String("8d1c8e4a-4d5f-4b9b-9d3e-0f6d2c1a7b5e")})
	}
	b.ReportAllocs()
	b.SetBytes(int64(500 * len(data)))
	for b.Loop() {
		_ = Append(make([]byte, 0, Size(&in)), &in)
	}
}

// TestAppendKnowsEveryField fails when the SDK's PutRecords input or entry
// has a field Append does not write or Supported does not refuse, so that
// an SDK upgrade cannot drop a field from the body unseen.
func TestAppendKnowsEveryField(t *testing.T) {
	known := map[reflect.Type][]string{
		reflect.TypeFor[kinesis.PutRecordsInput]():      {"Records", "DryRun", "StreamARN", "StreamId", "StreamName"},
		reflect.TypeFor[types.PutRecordsRequestEntry](): {"Data", "PartitionKey", "ExplicitHashKey"},
	}
	for typ, names := range known {
		for i := range typ.NumField() {
			if f := typ.Field(i); f.IsExported() {
				assert.Contains(t, names, f.Name, "%s.%s is new: write it in Append, or refuse it in Supported", typ.Name(), f.Name)
			}
		}
	}
}

func TestWrapOnlyTheSDKsProtocol(t *testing.T) {
	assert.Nil(t, Wrap(nil))
	sdk := kinesis.New(kinesis.Options{Region: "us-east-1"}).Options().Protocol
	w := Wrap(sdk)
	_, ok := w.(protocol)
	assert.True(t, ok, "the SDK's awsJson1_1 protocol is wrapped")
	assert.Equal(t, w, Wrap(w), "a wrapped protocol is not wrapped again")
	mine := userProtocol{sdk}
	assert.Equal(t, smithyhttp.ClientProtocol(mine), Wrap(mine), "a protocol of the user's is left as it is")
}

type userProtocol struct{ smithyhttp.ClientProtocol }

// bodyServer answers every PutRecords call with success and keeps the
// bodies it was sent.
func bodyServer(t *testing.T) (*kinesis.Client, func() [][]byte) {
	t.Helper()
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var in wire
		if err := json.Unmarshal(b, &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		out := `{"FailedRecordCount":0,"Records":[` + strings.TrimSuffix(strings.Repeat(`{"SequenceNumber":"1","ShardId":"shardId-000000000000"},`, len(in.Records)), ",") + `]}`
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(srv.Close)
	c := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer:      aws.NopRetryer{},
	}, func(o *kinesis.Options) { o.Protocol = Wrap(o.Protocol) })
	return c, func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(bodies)
	}
}

func TestBufferTakesCallsInTurn(t *testing.T) {
	c, sent := bodyServer(t)
	var buf Buffer
	ctx := WithBuffer(context.Background(), &buf)
	in := func(data string, n int) *kinesis.PutRecordsInput {
		in := &kinesis.PutRecordsInput{StreamName: aws.String("s")}
		for range n {
			in.Records = append(in.Records, types.PutRecordsRequestEntry{Data: []byte(data), PartitionKey: aws.String("k")})
		}
		return in
	}
	first, second := in(strings.Repeat("a", 300), 50), in("b", 20)

	_, err := c.PutRecords(ctx, first)
	require.NoError(t, err)
	old := buf.body
	require.NotNil(t, old, "the call's body was written into the buffer")
	backing := &buf.b[:1][0]
	buf.Release()

	// The released body reads nothing, as net/http would after the answer.
	n, err := old.Read(make([]byte, 10))
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)
	assert.Zero(t, old.Len())

	_, err = c.PutRecords(ctx, second)
	require.NoError(t, err)
	assert.Same(t, backing, &buf.b[:1][0], "the second body reuses the first one's bytes")
	buf.Release()

	bodies := sent()
	require.Len(t, bodies, 2)
	assert.Equal(t, Append(nil, first), bodies[0])
	assert.Equal(t, Append(nil, second), bodies[1])
}

func TestBodyHashesAndSeeksLikeBytesReader(t *testing.T) {
	want := []byte(`{"Records":[]}`)
	r := &body{b: want}
	h := sha256.New()
	n, err := io.Copy(h, r) // WriteTo, as the SDK's payload digest reads it
	require.NoError(t, err)
	assert.Equal(t, int64(len(want)), n)
	sum := sha256.Sum256(want)
	assert.Equal(t, sum[:], h.Sum(nil))
	assert.Zero(t, r.Len())

	pos, err := r.Seek(0, io.SeekStart)
	require.NoError(t, err)
	assert.Zero(t, pos)
	assert.Equal(t, len(want), r.Len())
	_, err = r.Seek(1, io.SeekEnd)
	assert.Error(t, err, "past the end")
	var out bytes.Buffer
	_, err = io.Copy(&out, r) // not a hash: read in turn
	require.NoError(t, err)
	assert.Equal(t, want, out.Bytes())

	r.release()
	_, err = r.Seek(0, io.SeekStart)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Empty(t, got, "a released body reads nothing")
}

func TestBufferKeepsNoHugeBody(t *testing.T) {
	buf := Buffer{b: make([]byte, 0, maxKept+1)}
	buf.Release()
	assert.Nil(t, buf.b)
}
