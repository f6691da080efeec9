package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunReportsEveryRecord runs the quickstart against its embedded server
// with small volumes and checks it reports every record delivered and read
// back exactly once.
func TestRunReportsEveryRecord(t *testing.T) {
	tests := []struct {
		name string
		args []string
		n    int
	}{
		{"defaults, fewer records", []string{"-n", "3000", "-progress", "20ms"}, 3000},
		{"msgpack on one throttled shard, no latency", []string{"-n", "2500", "-codec", "msgpack", "-shards", "1", "-latency", "0"}, 2500},
		{"no shard limits, several calls in flight", []string{"-n", "2000", "-throttle=false", "-maxgroup", "3", "-buffer", "700"}, 2000},
		{"no records", []string{"-n", "0"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, tc.args, &out)
			if err != nil {
				t.Fatalf("run: %v\noutput:\n%s", err, out.String())
			}
			text := out.String()
			for _, want := range []string{
				fmt.Sprintf("records     %d put, %d delivered, 0 failed", tc.n, tc.n),
				fmt.Sprintf("all %d records arrived, 0 missing, 0 duplicates", tc.n),
				"PutRecords calls",
				"records/s",
				"elapsed",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "error:") {
				t.Errorf("output reports errors:\n%s", text)
			}
		})
	}
}

// TestRunAgainstKinesalite runs the quickstart against the kinesalite that
// scripts/test.sh starts, creating the stream there.
func TestRunAgainstKinesalite(t *testing.T) {
	endpoint := os.Getenv("INSKINESIS_KINESALITE_ENDPOINT")
	if endpoint == "" {
		t.Skip("INSKINESIS_KINESALITE_ENDPOINT not set; run scripts/test.sh")
	}
	stream := fmt.Sprintf("quickstart-test-%d", time.Now().UnixNano())
	var out bytes.Buffer
	err := run(t.Context(), []string{"-endpoint", endpoint, "-stream", stream, "-shards", "3", "-n", "3000"}, &out)
	if err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	for _, want := range []string{
		fmt.Sprintf("creating stream %q with 3 shards", stream),
		"all 3000 records arrived, 0 missing, 0 duplicates (read from 3 shards)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// A second run on the same stream ignores the first run's records.
	out.Reset()
	err = run(t.Context(), []string{"-endpoint", endpoint, "-stream", stream, "-n", "500"}, &out)
	if err != nil {
		t.Fatalf("second run: %v\noutput:\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "all 500 records arrived, 0 missing, 0 duplicates") {
		t.Errorf("second run:\n%s", out.String())
	}
	if !regexp.MustCompile(`ignored [1-9][0-9]* records of earlier runs`).MatchString(out.String()) {
		t.Errorf("second run does not mention the first run's records:\n%s", out.String())
	}
}

// TestRunRejectsBadFlags checks that invalid flags fail before anything
// is sent.
func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-codec", "xml"}, `-codec "xml"`},
		{[]string{"-n", "-1"}, "-n -1 is negative"},
		{[]string{"-shards", "0"}, "-shards 0"},
		{[]string{"-maxgroup", "0"}, "-maxgroup 0"},
		{[]string{"-buffer", "0"}, "-buffer 0"},
		{[]string{"-users", "0"}, "-users 0"},
		{[]string{"-endpoint", "http://127.0.0.1:1", "-aws"}, "exclude each other"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-nosuchflag"}, "not defined"},
		{[]string{"-stream", "bad name!", "-n", "1"}, "invalid stream name"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), tc.args, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run -h = %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-n", "-stream", "-endpoint", "-aws", "-region", "-codec", "-shards", "-maxgroup"} {
		if !strings.Contains(out.String(), "  "+f+" ") && !strings.Contains(out.String(), "  "+f+"\n") {
			t.Errorf("usage lacks %s:\n%s", f, out.String())
		}
	}
}

// TestReportVerdict checks the read-back verdict on made-up counts.
func TestReportVerdict(t *testing.T) {
	tests := []struct {
		name    string
		seen    []int32
		wantErr string
		wantOut string
	}{
		{"each once", []int32{1, 1, 1}, "", "all 3 records arrived, 0 missing, 0 duplicates"},
		{"one missing", []int32{1, 0, 1}, "1 records missing and 0 duplicates", "FAILED: 2 of 3 records arrived, 1 missing (first: seq 1), 0 duplicates"},
		{"one twice", []int32{1, 2, 1}, "0 records missing and 1 duplicates", "FAILED: 3 of 3 records arrived, 0 missing, 1 duplicates"},
		{"both", []int32{0, 3, 1}, "1 records missing and 2 duplicates", "FAILED: 2 of 3 records arrived, 1 missing (first: seq 0), 2 duplicates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			rr := &readResult{seen: tc.seen, shards: 2}
			err := rr.report(&syncWriter{w: &buf}, len(tc.seen))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("report: %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Fatalf("report = %v, want %q", err, tc.wantErr)
			}
			if !strings.Contains(buf.String(), tc.wantOut) {
				t.Errorf("output %q lacks %q", buf.String(), tc.wantOut)
			}
		})
	}
}
