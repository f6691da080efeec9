package inotel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/kinesistest"
	"github.com/go-pkg/inskinesis/plugin/inotel"
)

type order struct {
	ID   int    `json:"id"`
	User string `json:"user"`
}

// collected is one collection of a ManualReader, by instrument name.
type collected map[string]metricdata.Metrics

func collect(t *testing.T, r *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != inotel.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func matches(set attribute.Set, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		v, ok := set.Value(attribute.Key(want[i]))
		if !ok || v.AsString() != want[i+1] {
			return false
		}
	}
	return true
}

// value sums the data points of a counter or gauge whose attributes
// include want (key, value pairs), failing t for a unit other than unit. An
// instrument that never measured anything is not collected: its value is 0.
func (c collected) value(t *testing.T, name, unit string, want ...string) int64 {
	t.Helper()
	m, ok := c[name]
	if !ok {
		return 0
	}
	if m.Unit != unit {
		t.Errorf("%s has unit %q, want %q", name, m.Unit, unit)
	}
	var sum int64
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if matches(p.Attributes, want) {
				sum += p.Value
			}
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			if matches(p.Attributes, want) {
				sum += p.Value
			}
		}
	default:
		t.Fatalf("%s: unexpected data %T", name, m.Data)
	}
	return sum
}

// hist returns the count and sum of a histogram's data points for stream.
func (c collected) hist(t *testing.T, name, unit, stream string) (count uint64, sum float64) {
	t.Helper()
	m, ok := c[name]
	if !ok {
		t.Fatalf("no instrument %s", name)
	}
	if m.Unit != unit {
		t.Errorf("%s has unit %q, want %q", name, m.Unit, unit)
	}
	switch d := m.Data.(type) {
	case metricdata.Histogram[int64]:
		for _, p := range d.DataPoints {
			if matches(p.Attributes, []string{"stream", stream}) {
				count += p.Count
				sum += float64(p.Sum)
			}
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			if matches(p.Attributes, []string{"stream", stream}) {
				count += p.Count
				sum += p.Sum
			}
		}
	default:
		t.Fatalf("%s: unexpected data %T", name, m.Data)
	}
	return count, sum
}

func eq[V comparable](t *testing.T, what string, got, want V) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// run puts n orders through a stream of cfg and stops it; it returns the
// records reported as not delivered (Stats.Failed).
func run(t *testing.T, cfg inskinesis.Config[order], n int) int {
	t.Helper()
	s, err := inskinesis.NewKinesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := s.Put(order{ID: i, User: fmt.Sprintf("user-%d", i%97)}); err != nil {
			t.Fatal(err)
		}
	}
	s.FlushAndStopStreaming()
	return int(s.Stats().Failed)
}

// TestExactCountsUnderFaults injects whole-call throttling and per-record
// internal failures, with retries enough to deliver everything, and checks
// the instruments against what the server counted.
func TestExactCountsUnderFaults(t *testing.T) {
	srv := kinesistest.Start(t, kinesistest.WithFaults(kinesistest.Faults{
		Seed:              42,
		RequestErrorRate:  0.2,
		RequestErrors:     []kinesistest.RequestError{kinesistest.RequestThroughputExceeded},
		RecordFailureRate: 0.05,
	}))
	if err := srv.CreateStream("orders", 4); err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	m, err := inotel.New(inotel.MeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	failed := run(t, inskinesis.Config[order]{
		StreamName:         "orders",
		Client:             srv.Client(),
		Partitioner:        func(o order) string { return o.User },
		MaxStreamBatchSize: 100,
		RetryCount:         50,
		RetryInterval:      time.Millisecond,
		MaxRetryInterval:   2 * time.Millisecond,
		Hooks:              []inskinesis.Hook{m},
	}, n)
	eq(t, "records not delivered", failed, 0)
	ss := srv.Stats()
	if ss.InjectedRequestErrors == 0 || ss.RecordsInternalFailure == 0 {
		t.Fatalf("the seed injected nothing: %+v", ss)
	}
	c := collect(t, reader)
	v := func(name, unit string, attrs ...string) int64 {
		return c.value(t, name, unit, append([]string{"stream", "orders"}, attrs...)...)
	}
	eq(t, "user_records.received", v("inskinesis.user_records.received", "{record}"), n)
	eq(t, "user_records.put", v("inskinesis.user_records.put", "{record}"), n)
	eq(t, "user_records.failed", v("inskinesis.user_records.failed", "{record}"), 0)
	eq(t, "user_records.pending", v("inskinesis.user_records.pending", "{record}"), 0)
	eq(t, "kinesis_records.put", v("inskinesis.kinesis_records.put", "{record}"), ss.RecordsAccepted)
	eq(t, "errors{ProvisionedThroughputExceededException}",
		v("inskinesis.errors", "{error}", "code", "ProvisionedThroughputExceededException"), ss.InjectedRequestErrors)
	eq(t, "errors{InternalFailure}", v("inskinesis.errors", "{error}", "code", "InternalFailure"), ss.RecordsInternalFailure)
	eq(t, "errors", v("inskinesis.errors", "{error}"), ss.InjectedRequestErrors+ss.RecordsInternalFailure)
	eq(t, "throttles", v("inskinesis.throttles", "{record}"), ss.RecordsInFailedRequests)

	recs, err := srv.Records("orders")
	if err != nil {
		t.Fatal(err)
	}
	var bytes int64
	for _, r := range recs {
		bytes += int64(len(r.Data) + len(r.PartitionKey))
	}
	eq(t, "user_records.data_put", v("inskinesis.user_records.data_put", "By"), bytes)
	eq(t, "kinesis_records.data_put", v("inskinesis.kinesis_records.data_put", "By"), bytes)

	count, _ := c.hist(t, "inskinesis.request_time", "s", "orders")
	eq(t, "request_time count", count, uint64(ss.WriteRequests))
	count, sum := c.hist(t, "inskinesis.kinesis_records_per_request", "{record}", "orders")
	eq(t, "kinesis_records_per_request count", count, uint64(ss.WriteRequests))
	eq(t, "kinesis_records_per_request sum", sum, float64(ss.RecordsAccepted+ss.RecordsInternalFailure+ss.RecordsInFailedRequests))
	count, sum = c.hist(t, "inskinesis.retries_per_record", "{retry}", "orders")
	eq(t, "retries_per_record count", count, n)
	eq(t, "retries_per_record sum", sum, float64(ss.RecordsInternalFailure+ss.RecordsInFailedRequests))
	eq(t, "retries", v("inskinesis.retries", "{record}"), int64(sum))
	count, _ = c.hist(t, "inskinesis.buffering_time", "s", "orders")
	eq(t, "buffering_time count", count, n)
	count, sum = c.hist(t, "inskinesis.user_records_per_kinesis_record", "{record}", "orders")
	eq(t, "user_records_per_kinesis_record count", count, n)
	eq(t, "user_records_per_kinesis_record sum", sum, n)
}

// TestAggregationWithoutRetries: an aggregating stream whose records fail
// without retries, with the shard attribute.
func TestAggregationWithoutRetries(t *testing.T) {
	srv := kinesistest.Start(t, kinesistest.WithFaults(kinesistest.Faults{Seed: 7, RecordFailureRate: 0.2}))
	if err := srv.CreateStream("agg", 4); err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	m, err := inotel.New(inotel.MeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))), inotel.ShardLabel())
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	failed := run(t, inskinesis.Config[order]{
		StreamName:          "agg",
		Client:              srv.Client(),
		Partitioner:         func(o order) string { return fmt.Sprint(o.ID) },
		AggregateRecords:    true,
		AggregationMaxCount: 20,
		MaxBatchSize:        n,
		RetryCount:          -1,
		Hooks:               []inskinesis.Hook{m},
	}, n)
	if failed == 0 {
		t.Fatal("the seed failed nothing")
	}
	ss := srv.Stats()
	recs, err := srv.Records("agg")
	if err != nil {
		t.Fatal(err)
	}
	shards, err := srv.Shards("agg")
	if err != nil {
		t.Fatal(err)
	}
	c := collect(t, reader)
	var put int64
	for _, sh := range shards {
		put += c.value(t, "inskinesis.user_records.put", "{record}", "stream", "agg", "shard", sh.ID)
	}
	eq(t, "user_records.put over the shards", put, int64(n-failed))
	eq(t, "user_records.failed", c.value(t, "inskinesis.user_records.failed", "{record}", "stream", "agg"), int64(failed))
	eq(t, "errors{retries_exhausted}", c.value(t, "inskinesis.errors", "{error}", "stream", "agg", "code", "retries_exhausted"), int64(failed))
	eq(t, "errors{InternalFailure}", c.value(t, "inskinesis.errors", "{error}", "stream", "agg", "code", "InternalFailure"), ss.RecordsInternalFailure)
	eq(t, "kinesis_records.put", c.value(t, "inskinesis.kinesis_records.put", "{record}", "stream", "agg"), int64(len(recs)))
	count, sum := c.hist(t, "inskinesis.user_records_per_kinesis_record", "{record}", "agg")
	eq(t, "user_records_per_kinesis_record count", count, uint64(len(recs)))
	eq(t, "user_records_per_kinesis_record sum", sum, float64(n-failed))
	eq(t, "shard_map.reads{ok}", c.value(t, "inskinesis.shard_map.reads", "{read}", "stream", "agg", "result", "ok"), 1)
	eq(t, "shards", c.value(t, "inskinesis.shards", "{shard}", "stream", "agg"), 4)
	eq(t, "aggregation.enabled", c.value(t, "inskinesis.aggregation.enabled", "1", "stream", "agg"), 1)
}
