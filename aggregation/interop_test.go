package aggregation

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis/internal/aggregate"
	"github.com/go-pkg/inskinesis/internal/hashkey"
)

// The interoperability tests run the npm package aws-kinesis-agg@4.2.8
// through testdata/kpl.js. They need node on PATH and the environment
// variable INSKINESIS_NODE_MODULES naming a node_modules folder that holds
// the package, for example after
//
//	mkdir -p .tools && cd .tools && npm install aws-kinesis-agg@4.2.8
//	export INSKINESIS_NODE_MODULES=$PWD/node_modules

// jsRecord is a record as kpl.js reads and writes it.
type jsRecord struct {
	PartitionKey      string  `json:"partitionKey"`
	ExplicitHashKey   *string `json:"explicitHashKey,omitempty"`
	Data              string  `json:"data"`
	SubSequenceNumber *int    `json:"subSequenceNumber,omitempty"`
}

type jsDeaggregated struct {
	Error   string     `json:"error"`
	Records []jsRecord `json:"records"`
}

func nodeModules(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("INSKINESIS_NODE_MODULES")
	if dir == "" {
		t.Skip("INSKINESIS_NODE_MODULES is not set: set it to a node_modules folder holding aws-kinesis-agg@4.2.8 to run the interoperability tests")
	}
	if _, err := os.Stat(filepath.Join(dir, "aws-kinesis-agg", "package.json")); err != nil {
		t.Skipf("INSKINESIS_NODE_MODULES=%s does not hold aws-kinesis-agg: %v", dir, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skipf("node is not on PATH: %v", err)
	}
	return dir
}

func runNode(t *testing.T, mode string, input, output any) {
	t.Helper()
	dir := nodeModules(t)
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "kpl.js"), mode)
	cmd.Env = append(os.Environ(), "NODE_PATH="+dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node kpl.js %s: %v\n%s", mode, err, stderr.String())
	}
	if err := json.Unmarshal(out, output); err != nil {
		t.Fatalf("node kpl.js %s printed %q: %v", mode, out, err)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// interopCases avoid keys that look like array indexes ("1", "42"):
// aws-kinesis-agg builds its key tables with Object.keys, which puts such
// keys first, out of the order of the indexes it wrote, and so pairs records
// with the wrong keys. Explicit hash keys below 2^32-1 are avoided for the
// same reason.
var interopCases = []struct {
	name string
	recs []in
}{
	{"plain ASCII keys, some shared", []in{{"alpha", "", []byte("1")}, {"beta", "", []byte("22")}, {"alpha", "", []byte("333")}}},
	{"multi-byte unicode keys", []in{{"ключ-🔑", "", []byte("u")}, {"日本語のキー", "", []byte("v")}, {"ключ-🔑", "", []byte("w")}, {"é", "", []byte("x")}}},
	{"explicit hash keys on every record", []in{
		{"k-a", hashkey.Max().String(), []byte("a")},
		{"k-b", "170141183460469231731687303715884105728", []byte("b")},
		{"k-c", hashkey.Max().String(), []byte("c")},
	}},
	{"empty data", []in{{"k-empty", "", []byte{}}, {"k-full", "", []byte("full")}, {"k-empty", "", []byte{}}}},
	{"binary data", []in{{"bin", "", []byte{0, 1, 0xF3, 0x89, 0x9A, 0xC2, 0xff}}, {"bin2", "", bytes.Repeat([]byte{0xAA}, 300)}}},
	{"one record", []in{{"solo", "", []byte("only")}}},
	{"many records and keys", func() []in {
		var out []in
		for i := range 300 {
			out = append(out, in{fmt.Sprintf("key-%d", i%37), "", []byte(strings.Repeat("x", i))})
		}
		return out
	}()},
}

// TestInteropOurAggregatesReadByAwsKinesisAgg: what the builder writes,
// aws-kinesis-agg reads back byte for byte, in order.
func TestInteropOurAggregatesReadByAwsKinesisAgg(t *testing.T) {
	nodeModules(t)
	var input []jsRecord
	for _, tc := range interopCases {
		input = append(input, jsRecord{PartitionKey: aggregate.PartitionKey, Data: b64(build(t, tc.recs...))})
	}
	var out []jsDeaggregated
	runNode(t, "deaggregate", input, &out)
	if len(out) != len(interopCases) {
		t.Fatalf("aws-kinesis-agg returned %d results for %d records", len(out), len(interopCases))
	}
	for i, tc := range interopCases {
		t.Run(tc.name, func(t *testing.T) {
			got := out[i]
			if got.Error != "" {
				t.Fatalf("aws-kinesis-agg failed: %s", got.Error)
			}
			if len(got.Records) != len(tc.recs) {
				t.Fatalf("aws-kinesis-agg read %d user records, want %d", len(got.Records), len(tc.recs))
			}
			for j, want := range tc.recs {
				g := got.Records[j]
				if g.PartitionKey != want.pk || !bytes.Equal(unb64(t, g.Data), want.data) {
					t.Fatalf("user record %d = %q %q, want %q %q", j, g.PartitionKey, unb64(t, g.Data), want.pk, want.data)
				}
				if g.SubSequenceNumber == nil || *g.SubSequenceNumber != j {
					t.Fatalf("user record %d has sub-sequence number %v", j, g.SubSequenceNumber)
				}
				if want.ehk != "" && (g.ExplicitHashKey == nil || *g.ExplicitHashKey != want.ehk) {
					t.Fatalf("user record %d explicit hash key = %v, want %s", j, g.ExplicitHashKey, want.ehk)
				}
			}
		})
	}
}

// TestInteropAwsKinesisAggAggregatesReadByUs: what aws-kinesis-agg writes,
// Deaggregate reads back byte for byte, in order; with the same keys the
// protobuf messages are identical to the builder's.
func TestInteropAwsKinesisAggAggregatesReadByUs(t *testing.T) {
	nodeModules(t)
	for _, tc := range interopCases {
		t.Run(tc.name, func(t *testing.T) {
			var input []jsRecord
			for _, r := range tc.recs {
				jr := jsRecord{PartitionKey: r.pk, Data: b64(r.data)}
				if r.ehk != "" {
					jr.ExplicitHashKey = aws.String(r.ehk)
				}
				input = append(input, jr)
			}
			var encoded []jsRecord
			runNode(t, "aggregate", input, &encoded)
			if len(encoded) != 1 {
				t.Fatalf("aws-kinesis-agg wrote %d Kinesis records, want 1", len(encoded))
			}
			e := encoded[0]
			data := unb64(t, e.Data)
			got, err := Deaggregate(types.Record{Data: data, PartitionKey: aws.String(e.PartitionKey)})
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, got, tc.recs)
			if want := build(t, tc.recs...); !bytes.Equal(data, want) {
				t.Fatalf("aws-kinesis-agg's aggregate differs from the builder's:\n got % x\nwant % x", data, want)
			}
			if e.PartitionKey != tc.recs[0].pk {
				t.Fatalf("aws-kinesis-agg's outer partition key = %q, want the first record's %q", e.PartitionKey, tc.recs[0].pk)
			}
		})
	}
}

// TestInteropMixedExplicitHashKeys pins a difference: aws-kinesis-agg reads
// a user record without explicit hash key, in an aggregate whose table is
// not empty, as having the table's first key (protobufjs reports the absent
// index as 0). Deaggregate, like the KCL, reports no explicit hash key.
func TestInteropMixedExplicitHashKeys(t *testing.T) {
	nodeModules(t)
	recs := []in{{"with", hashkey.Max().String(), []byte("1")}, {"without", "", []byte("2")}}
	var out []jsDeaggregated
	runNode(t, "deaggregate", []jsRecord{{PartitionKey: "a", Data: b64(build(t, recs...))}}, &out)
	if len(out) != 1 || len(out[0].Records) != 2 {
		t.Fatalf("aws-kinesis-agg returned %+v", out)
	}
	g := out[0].Records[1]
	if g.PartitionKey != "without" || string(unb64(t, g.Data)) != "2" {
		t.Fatalf("aws-kinesis-agg read %+v", g)
	}
	if g.ExplicitHashKey == nil || *g.ExplicitHashKey != hashkey.Max().String() {
		t.Fatalf("aws-kinesis-agg 4.2.8 no longer reports the first table key for a record without one: %v", g.ExplicitHashKey)
	}
	ours, _, err := DeaggregateData(build(t, recs...))
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, ours, recs)
}
