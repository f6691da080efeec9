package inprom_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/kinesistest"
	"github.com/go-pkg/inskinesis/plugin/inprom"
)

type order struct {
	ID   int    `json:"id"`
	User string `json:"user"`
}

// gathered is one gather of a registry, searchable by name and labels.
type gathered map[string]*dto.MetricFamily

func gather(t *testing.T, g prometheus.Gatherer) gathered {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := gathered{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// metric returns the series of name whose labels include want (name=value
// pairs), failing t unless exactly one matches.
func (g gathered) metric(t *testing.T, name string, want ...string) *dto.Metric {
	t.Helper()
	f := g[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	var found *dto.Metric
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				ok = false
			}
		}
		if ok {
			if found != nil {
				t.Fatalf("%s%v matches more than one series", name, want)
			}
			found = m
		}
	}
	if found == nil {
		t.Fatalf("no series %s%v", name, want)
	}
	return found
}

// value is a counter's or a gauge's value.
func (g gathered) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	m := g.metric(t, name, labels...)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

// hist is a histogram's sample count and sum.
func (g gathered) hist(t *testing.T, name string, labels ...string) (count uint64, sum float64) {
	t.Helper()
	h := g.metric(t, name, labels...).Histogram
	if h == nil {
		t.Fatalf("%s is not a histogram", name)
	}
	return h.GetSampleCount(), h.GetSampleSum()
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
// the metrics against what the server counted.
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
	reg := prometheus.NewRegistry()
	m := inprom.New(inprom.Registerer(reg))
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
	g := gather(t, reg)
	st := func(name string) float64 { return g.value(t, name, "stream", "orders") }
	eq(t, "user_records_received_total", st("inskinesis_user_records_received_total"), n)
	eq(t, "user_records_put_total", st("inskinesis_user_records_put_total"), n)
	eq(t, "user_records_failed_total", st("inskinesis_user_records_failed_total"), 0)
	eq(t, "user_records_pending", st("inskinesis_user_records_pending"), 0)
	eq(t, "kinesis_records_put_total", st("inskinesis_kinesis_records_put_total"), float64(ss.RecordsAccepted))
	eq(t, "errors_total{ProvisionedThroughputExceededException}",
		g.value(t, "inskinesis_errors_total", "stream", "orders", "code", "ProvisionedThroughputExceededException"), float64(ss.InjectedRequestErrors))
	eq(t, "errors_total{InternalFailure}",
		g.value(t, "inskinesis_errors_total", "stream", "orders", "code", "InternalFailure"), float64(ss.RecordsInternalFailure))
	eq(t, "errors_total series", len(g["inskinesis_errors_total"].Metric), 2)
	eq(t, "throttles_total", st("inskinesis_throttles_total"), float64(ss.RecordsInFailedRequests))

	recs, err := srv.Records("orders")
	if err != nil {
		t.Fatal(err)
	}
	var bytes int
	for _, r := range recs {
		bytes += len(r.Data) + len(r.PartitionKey)
	}
	eq(t, "user_records_data_put_bytes_total", st("inskinesis_user_records_data_put_bytes_total"), float64(bytes))
	eq(t, "kinesis_records_data_put_bytes_total", st("inskinesis_kinesis_records_data_put_bytes_total"), float64(bytes))

	count, _ := g.hist(t, "inskinesis_request_time_seconds", "stream", "orders")
	eq(t, "request_time_seconds count", count, uint64(ss.WriteRequests))
	count, sum := g.hist(t, "inskinesis_kinesis_records_per_request", "stream", "orders")
	eq(t, "kinesis_records_per_request count", count, uint64(ss.WriteRequests))
	eq(t, "kinesis_records_per_request sum", sum, float64(ss.RecordsAccepted+ss.RecordsInternalFailure+ss.RecordsInFailedRequests))
	count, sum = g.hist(t, "inskinesis_retries_per_record", "stream", "orders")
	eq(t, "retries_per_record count", count, n)
	// Every failed send of a record was retried once.
	eq(t, "retries_per_record sum", sum, float64(ss.RecordsInternalFailure+ss.RecordsInFailedRequests))
	eq(t, "retries_total", st("inskinesis_retries_total"), sum)
	count, _ = g.hist(t, "inskinesis_buffering_time_seconds", "stream", "orders")
	eq(t, "buffering_time_seconds count", count, n)
	count, sum = g.hist(t, "inskinesis_user_records_per_kinesis_record", "stream", "orders")
	eq(t, "user_records_per_kinesis_record count", count, n)
	eq(t, "user_records_per_kinesis_record sum", sum, n)
}

// TestAggregatedStreamsShareOneAdapter runs two streams through one adapter
// with the shard label: an aggregating one whose records fail without
// retries, and a plain one.
func TestAggregatedStreamsShareOneAdapter(t *testing.T) {
	srv := kinesistest.Start(t, kinesistest.WithFaults(kinesistest.Faults{Seed: 7, RecordFailureRate: 0.2}))
	for _, name := range []string{"agg", "plain"} {
		if err := srv.CreateStream(name, 4); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	m := inprom.New(inprom.ShardLabel())
	reg.MustRegister(m)
	const n = 2000
	aggFailed := run(t, inskinesis.Config[order]{
		StreamName:          "agg",
		Client:              srv.Client(),
		Partitioner:         func(o order) string { return fmt.Sprint(o.ID) },
		AggregateRecords:    true,
		AggregationMaxCount: 20,
		MaxBatchSize:        n,
		RetryCount:          -1,
		Hooks:               []inskinesis.Hook{m},
	}, n)
	aggStats := srv.Stats()
	plainFailed := run(t, inskinesis.Config[order]{
		StreamName:  "plain",
		Client:      srv.Client(),
		Partitioner: func(o order) string { return o.User },
		RetryCount:  -1,
		Hooks:       []inskinesis.Hook{m},
	}, n)
	if aggFailed == 0 || plainFailed == 0 {
		t.Fatalf("the seed failed nothing: %d, %d", aggFailed, plainFailed)
	}
	g := gather(t, reg)

	aggRecs, err := srv.Records("agg")
	if err != nil {
		t.Fatal(err)
	}
	shards, err := srv.Shards("agg")
	if err != nil {
		t.Fatal(err)
	}
	var putByShard float64
	for _, sh := range shards {
		putByShard += g.value(t, "inskinesis_user_records_put_total", "stream", "agg", "shard", sh.ID)
	}
	eq(t, "agg user_records_put_total over its shards", putByShard, float64(n-aggFailed))
	eq(t, "agg user_records_failed_total", g.value(t, "inskinesis_user_records_failed_total", "stream", "agg"), float64(aggFailed))
	eq(t, "agg errors_total{retries_exhausted}",
		g.value(t, "inskinesis_errors_total", "stream", "agg", "code", "retries_exhausted"), float64(aggFailed))
	eq(t, "agg errors_total{InternalFailure}",
		g.value(t, "inskinesis_errors_total", "stream", "agg", "code", "InternalFailure"), float64(aggStats.RecordsInternalFailure))
	eq(t, "agg kinesis_records_put_total", g.value(t, "inskinesis_kinesis_records_put_total", "stream", "agg"), float64(len(aggRecs)))
	if len(aggRecs) >= n/10 {
		t.Errorf("%d Kinesis records for %d user records: not aggregated", len(aggRecs), n)
	}
	count, sum := g.hist(t, "inskinesis_user_records_per_kinesis_record", "stream", "agg")
	eq(t, "agg user_records_per_kinesis_record count", count, uint64(len(aggRecs)))
	eq(t, "agg user_records_per_kinesis_record sum", sum, float64(n-aggFailed))
	eq(t, "agg shard_map_reads_total{ok}", g.value(t, "inskinesis_shard_map_reads_total", "stream", "agg", "result", "ok"), 1)
	eq(t, "agg shards", g.value(t, "inskinesis_shards", "stream", "agg"), 4)
	eq(t, "agg aggregation_enabled", g.value(t, "inskinesis_aggregation_enabled", "stream", "agg"), 1)
	eq(t, "agg user_records_pending", g.value(t, "inskinesis_user_records_pending", "stream", "agg"), 0)

	eq(t, "plain user_records_received_total", g.value(t, "inskinesis_user_records_received_total", "stream", "plain"), n)
	eq(t, "plain user_records_failed_total", g.value(t, "inskinesis_user_records_failed_total", "stream", "plain"), float64(plainFailed))
	eq(t, "plain errors_total{InternalFailure}",
		g.value(t, "inskinesis_errors_total", "stream", "plain", "code", "InternalFailure"), float64(plainFailed))
	var plainPut float64
	for _, m := range g["inskinesis_user_records_put_total"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "stream" && l.GetValue() == "plain" {
				plainPut += m.Counter.GetValue()
			}
		}
	}
	eq(t, "plain user_records_put_total", plainPut, float64(n-plainFailed))
}

func TestRegistererRegisters(t *testing.T) {
	reg := prometheus.NewRegistry()
	inprom.New(inprom.Registerer(reg), inprom.Namespace("orders_producer"))
	if err := reg.Register(inprom.New(inprom.Namespace("orders_producer"))); err == nil {
		t.Fatal("a second set of the same names registered: the first was not")
	}
	if err := reg.Register(inprom.New()); err != nil {
		t.Fatalf("another namespace: %v", err)
	}
}
