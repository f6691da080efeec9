package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun: the example reads back every reading exactly once, from far
// fewer Kinesis records than readings.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, 3000, 2); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"put 3000 readings into 2 shards: 3000 delivered, 0 failed",
		"aggregation.Decode read back 3000 readings: 0 missing, 0 more than once",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(out.String(), " aggregates, ") || strings.Contains(out.String(), "(0 aggregates") {
		t.Errorf("no aggregates stored:\n%s", out.String())
	}
}

// TestRunRejectsBadFlags: -n and -shards must be positive.
func TestRunRejectsBadFlags(t *testing.T) {
	for _, c := range []struct{ n, shards int }{{0, 1}, {1, 0}, {-1, 4}} {
		if err := run(context.Background(), &bytes.Buffer{}, c.n, c.shards); err == nil {
			t.Errorf("run(n=%d, shards=%d) = nil, want an error", c.n, c.shards)
		}
	}
}
