package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
)

// table runs the program with args and returns its table: the value (or the
// count, for histograms) of each printed series.
func table(t *testing.T, args ...string) map[string]float64 {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	rows := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	inTable := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[len(f)-1] == "value" {
			inTable = true
			continue
		}
		if !inTable || len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("row %q: %v", sc.Text(), err)
		}
		rows[f[0]] = v
	}
	if len(rows) == 0 {
		t.Fatalf("no table in the output:\n%s", out.String())
	}
	return rows
}

func want(t *testing.T, rows map[string]float64, name string, v float64) {
	t.Helper()
	got, ok := rows[name]
	if !ok {
		t.Errorf("no row %s", name)
		return
	}
	if got != v {
		t.Errorf("%s = %v, want %v", name, got, v)
	}
}

const throttled = `inskinesis_errors_total{code="ProvisionedThroughputExceededException"}`

func TestTableIsConsistent(t *testing.T) {
	const n = 3000
	rows := table(t, "-n", "3000", "-latency", "1ms", "-quiet")
	want(t, rows, "inskinesis_user_records_received_total", n)
	want(t, rows, "inskinesis_user_records_put_total", n)
	want(t, rows, "inskinesis_user_records_failed_total", 0)
	want(t, rows, "inskinesis_user_records_pending", 0)
	want(t, rows, "inskinesis_kinesis_records_put_total", n)
	want(t, rows, "inskinesis_kinesis_records_data_put_bytes_total", rows["inskinesis_user_records_data_put_bytes_total"])
	if rows["inskinesis_user_records_data_put_bytes_total"] <= n {
		t.Errorf("user_records_data_put_bytes_total %v: less than a byte per record", rows["inskinesis_user_records_data_put_bytes_total"])
	}
	// Every failure is a per-record throttle, and every throttled record
	// is retried once per throttle.
	want(t, rows, "inskinesis_throttles_total", rows[throttled])
	want(t, rows, "inskinesis_retries_total", rows[throttled])
	want(t, rows, "inskinesis_request_time_seconds_count", rows["inskinesis_kinesis_records_per_request_count"])
	want(t, rows, "inskinesis_buffering_time_seconds_count", n)
	want(t, rows, "inskinesis_retries_per_record_count", n)
	want(t, rows, "inskinesis_user_records_per_kinesis_record_count", n)
}

func TestTableWithAggregation(t *testing.T) {
	const n = 3000
	rows := table(t, "-n", "3000", "-latency", "1ms", "-aggregate", "-quiet")
	want(t, rows, "inskinesis_user_records_put_total", n)
	want(t, rows, "inskinesis_user_records_failed_total", 0)
	k := rows["inskinesis_kinesis_records_put_total"]
	if k <= 0 || k >= n/10 {
		t.Errorf("kinesis_records_put_total %v for %d user records: not aggregated", k, n)
	}
	want(t, rows, "inskinesis_user_records_per_kinesis_record_count", k)
	want(t, rows, "inskinesis_retries_per_record_count", n)
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-n", "-1"}, {"-shards", "0"}, {"-users", "0"}, {"extra"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
