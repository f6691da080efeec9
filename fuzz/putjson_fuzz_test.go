package fuzz

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis/internal/putjson"
)

// FuzzPutJSON writes PutRecords bodies with arbitrary keys, stream names
// and data. The body must be valid JSON, and read back to the data, and to
// the strings as encoding/json writes and reads them (bytes that are not
// UTF-8 become U+FFFD).
func FuzzPutJSON(f *testing.F) {
	f.Add("key", "", "stream", []byte("data"))
	f.Add(`q"b\`, "340282366920938463463374607431768211455", "s", []byte{})
	f.Add("\x00\x1f\x7f\xff\u2028🙂", "1", "", []byte{0, 255})
	f.Fuzz(func(t *testing.T, key, ehk, name string, data []byte) {
		in := &kinesis.PutRecordsInput{StreamName: &name, Records: []types.PutRecordsRequestEntry{
			{Data: data, PartitionKey: &key, ExplicitHashKey: &ehk},
			{Data: data, PartitionKey: &name},
		}}
		body := putjson.Append(nil, in)
		if !json.Valid(body) {
			t.Fatalf("not JSON: %q", body)
		}
		var got struct {
			Records []struct {
				Data            []byte
				ExplicitHashKey *string
				PartitionKey    *string
			}
			StreamName *string
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		want := func(s string) string {
			b, _ := json.Marshal(s)
			var w string
			_ = json.Unmarshal(b, &w)
			return w
		}
		if len(got.Records) != 2 || got.StreamName == nil || *got.StreamName != want(name) {
			t.Fatalf("read back %+v", got)
		}
		r := got.Records[0]
		if !bytes.Equal(r.Data, data) || *r.PartitionKey != want(key) || *r.ExplicitHashKey != want(ehk) || got.Records[1].ExplicitHashKey != nil {
			t.Fatalf("record read back as %+v", r)
		}
	})
}
