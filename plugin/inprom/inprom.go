// Package inprom exports the metrics of inskinesis streams to Prometheus:
// the metric set of the Kinesis Producer Library, named the Prometheus way.
//
//	m := inprom.New(inprom.Registerer(prometheus.DefaultRegisterer))
//	stream, err := inskinesis.NewKinesis(inskinesis.Config[Order]{
//		StreamName: "orders",
//		Region:     "eu-west-1",
//		Hooks:      []inskinesis.Hook{m},
//	})
//
// One *Metrics may serve any number of streams: every series carries the
// stream's name in the label "stream". It is a module of its own, so that
// the inskinesis module does not depend on the Prometheus client.
//
// # Metrics
//
// With the default namespace "inskinesis":
//
//	inskinesis_user_records_received_total            counter   records Put admitted
//	inskinesis_user_records_put_total                 counter   records delivered
//	inskinesis_user_records_data_put_bytes_total      counter   their data plus partition keys
//	inskinesis_kinesis_records_put_total              counter   Kinesis records written (an aggregate counts once)
//	inskinesis_kinesis_records_data_put_bytes_total   counter   their data plus partition keys
//	inskinesis_errors_total{code}                     counter   failures by AWS error code, per failed entry or
//	                                                            failed call, and records given up on by reason
//	                                                            (retries_exhausted, expired, aborted)
//	inskinesis_user_records_failed_total              counter   records not delivered
//	inskinesis_retries_per_record                     histogram sends after the first, per record
//	inskinesis_buffering_time_seconds                 histogram time from Put to outcome, per record
//	inskinesis_request_time_seconds                   histogram duration of PutRecords calls
//	inskinesis_user_records_per_kinesis_record        histogram user records per Kinesis record written
//	inskinesis_kinesis_records_per_request            histogram Kinesis records per PutRecords call
//	inskinesis_user_records_pending                   gauge     records in the stream
//	inskinesis_throttles_total                        counter   Kinesis records throttled
//	inskinesis_retries_total                          counter   user records scheduled to be sent again
//	inskinesis_shard_map_reads_total{result}          counter   reads of the shard map, result "ok" or "error"
//	inskinesis_shards                                 gauge     open shards in the stream's shard map
//	inskinesis_aggregation_enabled                    gauge     1 while the stream aggregates, else 0
//
// With ShardLabel, the put counters of user records and the throttle
// counter also carry the label "shard".
package inprom

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-pkg/inskinesis"
)

// Metrics is a set of Prometheus metrics fed by the hooks of inskinesis
// streams, and a prometheus.Collector of them. Create it with New, pass it
// in Config.Hooks of one or more streams, and register it (or let New do it
// with Registerer). Its methods are safe for concurrent use.
type Metrics struct {
	shardLabel bool

	received, put, putBytes, kPut, kPutBytes *prometheus.CounterVec
	errors, failed, throttles, retried       *prometheus.CounterVec
	mapReads                                 *prometheus.CounterVec
	retries, buffering, requestTime          *prometheus.HistogramVec
	perKinesisRecord, perRequest             *prometheus.HistogramVec
	pending, shards, aggregation             *prometheus.GaugeVec

	streams sync.Map // stream name -> *streamMetrics
}

// streamMetrics are the series of one stream, so that a hot path looks a
// stream up once rather than hashing label values per event.
type streamMetrics struct {
	received, put, putBytes, kPut, kPutBytes, failed, throttles, retried prometheus.Counter
	retries, buffering, requestTime, perKinesisRecord, perRequest        prometheus.Observer
	pending                                                              prometheus.Gauge
}

var (
	_ prometheus.Collector            = (*Metrics)(nil)
	_ inskinesis.HookRecordBuffered   = (*Metrics)(nil)
	_ inskinesis.HookRecordUnbuffered = (*Metrics)(nil)
	_ inskinesis.HookRequestDone      = (*Metrics)(nil)
	_ inskinesis.HookThrottle         = (*Metrics)(nil)
	_ inskinesis.HookRetry            = (*Metrics)(nil)
	_ inskinesis.HookShardMap         = (*Metrics)(nil)
	_ inskinesis.HookAggregation      = (*Metrics)(nil)
)

// Opt configures New.
type Opt interface{ apply(*config) }

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

type config struct {
	reg         prometheus.Registerer
	namespace   string
	shardLabel  bool
	constLabels prometheus.Labels
}

// Registerer makes New register the metrics with reg; New then panics, as
// prometheus.MustRegister does, when reg already holds metrics of the same
// names. Default: New registers nothing; register the *Metrics yourself.
func Registerer(reg prometheus.Registerer) Opt { return opt(func(c *config) { c.reg = reg }) }

// Namespace sets the metrics' namespace, the prefix of their names.
// Default "inskinesis".
func Namespace(ns string) Opt { return opt(func(c *config) { c.namespace = ns }) }

// ShardLabel adds the label "shard" to user_records_put_total,
// user_records_data_put_bytes_total and throttles_total. A stream has up to
// thousands of shards, and resharding retires their IDs, so this multiplies
// the series and keeps dead ones: it is off by default. Throttled records
// carry the shard only when the stream predicts it (with AggregateRecords
// or ShardRateLimit); the label is empty otherwise.
func ShardLabel() Opt { return opt(func(c *config) { c.shardLabel = true }) }

// ConstLabels adds labels with fixed values to every metric, for example
// the application's name. Default: none.
func ConstLabels(l prometheus.Labels) Opt { return opt(func(c *config) { c.constLabels = l }) }

// New returns the metrics, registered with the Registerer option's
// registerer if one is given (panicking if that fails, see Registerer).
func New(opts ...Opt) *Metrics {
	c := config{namespace: "inskinesis"}
	for _, o := range opts {
		o.apply(&c)
	}
	m := &Metrics{shardLabel: c.shardLabel}
	stream := []string{"stream"}
	perShard := stream
	if c.shardLabel {
		perShard = []string{"stream", "shard"}
	}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: c.namespace, Name: name, Help: help, ConstLabels: c.constLabels}, labels)
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: c.namespace, Name: name, Help: help, ConstLabels: c.constLabels}, stream)
	}
	histogram := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: c.namespace, Name: name, Help: help, ConstLabels: c.constLabels, Buckets: buckets}, stream)
	}
	m.received = counter("user_records_received_total", "User records the stream admitted (Put).", stream)
	m.put = counter("user_records_put_total", "User records delivered to Kinesis.", perShard)
	m.putBytes = counter("user_records_data_put_bytes_total", "Data plus partition key bytes of the user records delivered.", perShard)
	m.kPut = counter("kinesis_records_put_total", "Kinesis records written; an aggregate counts once.", stream)
	m.kPutBytes = counter("kinesis_records_data_put_bytes_total", "Data plus partition key bytes of the Kinesis records written.", stream)
	m.errors = counter("errors_total", "Failures by AWS error code (per failed Kinesis record or failed call) and user records given up on by reason (retries_exhausted, expired, aborted).", []string{"stream", "code"})
	m.failed = counter("user_records_failed_total", "User records not delivered.", stream)
	m.throttles = counter("throttles_total", "Kinesis records throttled by Kinesis.", perShard)
	m.retried = counter("retries_total", "User records scheduled to be sent again.", stream)
	m.mapReads = counter("shard_map_reads_total", "Reads of the shard map, by result (ok, error).", []string{"stream", "result"})
	m.retries = histogram("retries_per_record", "Sends after the first, per user record with an outcome.", []float64{0, 1, 2, 3, 4, 5, 10, 20, 50})
	m.buffering = histogram("buffering_time_seconds", "Time from Put to the outcome, per user record.", prometheus.ExponentialBuckets(0.001, 2, 16))
	m.requestTime = histogram("request_time_seconds", "Duration of PutRecords calls.", prometheus.ExponentialBuckets(0.001, 2, 16))
	m.perKinesisRecord = histogram("user_records_per_kinesis_record", "User records per Kinesis record written.", []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000})
	m.perRequest = histogram("kinesis_records_per_request", "Kinesis records per PutRecords call.", []float64{1, 5, 10, 25, 50, 100, 200, 300, 400, 500})
	m.pending = gauge("user_records_pending", "User records in the stream: waiting, in flight or awaiting retry.")
	m.shards = gauge("shards", "Open shards in the stream's shard map.")
	m.aggregation = gauge("aggregation_enabled", "1 while the stream aggregates records, else 0.")
	if c.reg != nil {
		c.reg.MustRegister(m)
	}
	return m
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.received, m.put, m.putBytes, m.kPut, m.kPutBytes,
		m.errors, m.failed, m.throttles, m.retried, m.mapReads,
		m.retries, m.buffering, m.requestTime, m.perKinesisRecord, m.perRequest,
		m.pending, m.shards, m.aggregation,
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// of returns the series of a stream.
func (m *Metrics) of(stream string) *streamMetrics {
	if s, ok := m.streams.Load(stream); ok {
		return s.(*streamMetrics)
	}
	s := &streamMetrics{
		received:         m.received.WithLabelValues(stream),
		kPut:             m.kPut.WithLabelValues(stream),
		kPutBytes:        m.kPutBytes.WithLabelValues(stream),
		failed:           m.failed.WithLabelValues(stream),
		retried:          m.retried.WithLabelValues(stream),
		retries:          m.retries.WithLabelValues(stream),
		buffering:        m.buffering.WithLabelValues(stream),
		requestTime:      m.requestTime.WithLabelValues(stream),
		perKinesisRecord: m.perKinesisRecord.WithLabelValues(stream),
		perRequest:       m.perRequest.WithLabelValues(stream),
		pending:          m.pending.WithLabelValues(stream),
	}
	if !m.shardLabel {
		s.put = m.put.WithLabelValues(stream)
		s.putBytes = m.putBytes.WithLabelValues(stream)
		s.throttles = m.throttles.WithLabelValues(stream)
	}
	actual, _ := m.streams.LoadOrStore(stream, s)
	return actual.(*streamMetrics)
}

// OnRecordBuffered implements inskinesis.HookRecordBuffered.
func (m *Metrics) OnRecordBuffered(e inskinesis.RecordBuffered) {
	s := m.of(e.Stream)
	s.received.Inc()
	s.pending.Inc()
}

// OnRecordUnbuffered implements inskinesis.HookRecordUnbuffered.
func (m *Metrics) OnRecordUnbuffered(e inskinesis.RecordUnbuffered) {
	s := m.of(e.Stream)
	s.pending.Dec()
	s.retries.Observe(float64(e.Retries()))
	s.buffering.Observe(e.Buffered.Seconds())
	if e.Err != nil {
		s.failed.Inc()
		if code, ok := e.ErrorCode(); ok {
			m.errors.WithLabelValues(e.Stream, code).Inc()
		}
		return
	}
	if m.shardLabel {
		m.put.WithLabelValues(e.Stream, e.ShardID).Inc()
		m.putBytes.WithLabelValues(e.Stream, e.ShardID).Add(float64(e.Bytes))
	} else {
		s.put.Inc()
		s.putBytes.Add(float64(e.Bytes))
	}
	if n, ok := e.KinesisRecord(); ok {
		s.perKinesisRecord.Observe(float64(n))
	}
}

// OnRequestDone implements inskinesis.HookRequestDone.
func (m *Metrics) OnRequestDone(e inskinesis.RequestDone) {
	s := m.of(e.Stream)
	s.requestTime.Observe(e.Duration.Seconds())
	s.perRequest.Observe(float64(e.Entries))
	s.kPut.Add(float64(e.WrittenEntries))
	s.kPutBytes.Add(float64(e.WrittenBytes))
	for code, n := range e.Errors() {
		m.errors.WithLabelValues(e.Stream, code).Add(float64(n))
	}
}

// OnThrottle implements inskinesis.HookThrottle.
func (m *Metrics) OnThrottle(e inskinesis.Throttle) {
	if m.shardLabel {
		m.throttles.WithLabelValues(e.Stream, e.ShardID).Add(float64(e.Entries))
		return
	}
	m.of(e.Stream).throttles.Add(float64(e.Entries))
}

// OnRetry implements inskinesis.HookRetry.
func (m *Metrics) OnRetry(e inskinesis.Retry) {
	m.of(e.Stream).retried.Add(float64(e.Records))
}

// OnShardMap implements inskinesis.HookShardMap.
func (m *Metrics) OnShardMap(e inskinesis.ShardMap) {
	m.mapReads.WithLabelValues(e.Stream, e.Result()).Inc()
	if e.Err == nil {
		m.shards.WithLabelValues(e.Stream).Set(float64(e.Shards))
	}
}

// OnAggregation implements inskinesis.HookAggregation.
func (m *Metrics) OnAggregation(e inskinesis.Aggregation) {
	m.aggregation.WithLabelValues(e.Stream).Set(float64(e.Value()))
}
