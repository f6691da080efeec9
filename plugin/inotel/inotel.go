// Package inotel exports the metrics of inskinesis streams through the
// OpenTelemetry metrics API: the metric set of the Kinesis Producer Library,
// named the OpenTelemetry way.
//
//	m, err := inotel.New() // the global MeterProvider; or inotel.MeterProvider(mp)
//	if err != nil { ... }
//	stream, err := inskinesis.NewKinesis(inskinesis.Config[Order]{
//		StreamName: "orders",
//		Region:     "eu-west-1",
//		Hooks:      []inskinesis.Hook{m},
//	})
//
// One *Metrics may serve any number of streams: every data point carries
// the stream's name in the attribute "stream". It is a module of its own,
// so that the inskinesis module does not depend on OpenTelemetry.
//
// # Instruments
//
//	inskinesis.user_records.received           counter         {record}  records Put admitted
//	inskinesis.user_records.put                counter         {record}  records delivered
//	inskinesis.user_records.data_put           counter         By        their data plus partition keys
//	inskinesis.kinesis_records.put             counter         {record}  Kinesis records written (an aggregate counts once)
//	inskinesis.kinesis_records.data_put        counter         By        their data plus partition keys
//	inskinesis.errors                          counter         {error}   failures by AWS error code (attribute "code"), per
//	                                                                     failed entry or failed call, and records given up
//	                                                                     on by reason (retries_exhausted, expired, aborted)
//	inskinesis.user_records.failed             counter         {record}  records not delivered
//	inskinesis.retries_per_record              histogram       {retry}   sends after the first, per record
//	inskinesis.buffering_time                  histogram       s         time from Put to outcome, per record
//	inskinesis.request_time                    histogram       s         duration of PutRecords calls
//	inskinesis.user_records_per_kinesis_record histogram       {record}  user records per Kinesis record written
//	inskinesis.kinesis_records_per_request     histogram       {record}  Kinesis records per PutRecords call
//	inskinesis.user_records.pending            updowncounter   {record}  records in the stream
//	inskinesis.throttles                       counter         {record}  Kinesis records throttled
//	inskinesis.retries                         counter         {record}  user records scheduled to be sent again
//	inskinesis.shard_map.reads                 counter         {read}    reads of the shard map (attribute "result": ok, error)
//	inskinesis.shards                          gauge           {shard}   open shards in the stream's shard map
//	inskinesis.aggregation.enabled             gauge           1         1 while the stream aggregates, else 0
//
// With ShardLabel, user_records.put, user_records.data_put and throttles
// also carry the attribute "shard".
package inotel

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/go-pkg/inskinesis"
)

// ScopeName is the instrumentation scope of the meter the metrics use.
const ScopeName = "github.com/go-pkg/inskinesis/plugin/inotel"

// Metrics is a set of OpenTelemetry instruments fed by the hooks of
// inskinesis streams. Create it with New and pass it in Config.Hooks of one
// or more streams. Its methods are safe for concurrent use.
type Metrics struct {
	shardLabel bool

	received, put, putBytes, kPut, kPutBytes metric.Int64Counter
	errors, failed, throttles, retried       metric.Int64Counter
	mapReads                                 metric.Int64Counter
	retries, perKinesisRecord, perRequest    metric.Int64Histogram
	buffering, requestTime                   metric.Float64Histogram
	pending                                  metric.Int64UpDownCounter
	shards, aggregation                      metric.Int64Gauge

	streams sync.Map // stream name -> metric.MeasurementOption
}

var (
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
	mp         metric.MeterProvider
	shardLabel bool
}

// MeterProvider sets the provider of the meter. Default:
// otel.GetMeterProvider(), the global one.
func MeterProvider(mp metric.MeterProvider) Opt { return opt(func(c *config) { c.mp = mp }) }

// ShardLabel adds the attribute "shard" to user_records.put,
// user_records.data_put and throttles. A stream has up to thousands of
// shards, and resharding retires their IDs, so this multiplies the series:
// it is off by default. Throttled records carry the shard only when the
// stream predicts it (with AggregateRecords or ShardRateLimit); the
// attribute is empty otherwise.
func ShardLabel() Opt { return opt(func(c *config) { c.shardLabel = true }) }

// New creates the instruments on a meter of the provider (see
// MeterProvider). It returns the errors of creating them, joined.
func New(opts ...Opt) (*Metrics, error) {
	c := config{}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	meter := c.mp.Meter(ScopeName)
	m := &Metrics{shardLabel: c.shardLabel}
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		i, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return i
	}
	histogram := func(name, unit, desc string, bounds ...float64) metric.Int64Histogram {
		i, err := meter.Int64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(bounds...))
		errs = append(errs, err)
		return i
	}
	seconds := func(name, desc string) metric.Float64Histogram {
		i, err := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30))
		errs = append(errs, err)
		return i
	}
	gauge := func(name, unit, desc string) metric.Int64Gauge {
		i, err := meter.Int64Gauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return i
	}
	m.received = counter("inskinesis.user_records.received", "{record}", "User records the stream admitted (Put).")
	m.put = counter("inskinesis.user_records.put", "{record}", "User records delivered to Kinesis.")
	m.putBytes = counter("inskinesis.user_records.data_put", "By", "Data plus partition key bytes of the user records delivered.")
	m.kPut = counter("inskinesis.kinesis_records.put", "{record}", "Kinesis records written; an aggregate counts once.")
	m.kPutBytes = counter("inskinesis.kinesis_records.data_put", "By", "Data plus partition key bytes of the Kinesis records written.")
	m.errors = counter("inskinesis.errors", "{error}", "Failures by AWS error code (per failed Kinesis record or failed call) and user records given up on by reason (retries_exhausted, expired, aborted).")
	m.failed = counter("inskinesis.user_records.failed", "{record}", "User records not delivered.")
	m.throttles = counter("inskinesis.throttles", "{record}", "Kinesis records throttled by Kinesis.")
	m.retried = counter("inskinesis.retries", "{record}", "User records scheduled to be sent again.")
	m.mapReads = counter("inskinesis.shard_map.reads", "{read}", "Reads of the shard map, by result (ok, error).")
	m.retries = histogram("inskinesis.retries_per_record", "{retry}", "Sends after the first, per user record with an outcome.", 0, 1, 2, 3, 4, 5, 10, 20, 50)
	m.perKinesisRecord = histogram("inskinesis.user_records_per_kinesis_record", "{record}", "User records per Kinesis record written.", 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
	m.perRequest = histogram("inskinesis.kinesis_records_per_request", "{record}", "Kinesis records per PutRecords call.", 1, 5, 10, 25, 50, 100, 200, 300, 400, 500)
	m.buffering = seconds("inskinesis.buffering_time", "Time from Put to the outcome, per user record.")
	m.requestTime = seconds("inskinesis.request_time", "Duration of PutRecords calls.")
	var err error
	m.pending, err = meter.Int64UpDownCounter("inskinesis.user_records.pending", metric.WithUnit("{record}"),
		metric.WithDescription("User records in the stream: waiting, in flight or awaiting retry."))
	errs = append(errs, err)
	m.shards = gauge("inskinesis.shards", "{shard}", "Open shards in the stream's shard map.")
	m.aggregation = gauge("inskinesis.aggregation.enabled", "1", "1 while the stream aggregates records, else 0.")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// of returns the measurement option with a stream's attributes.
func (m *Metrics) of(stream string) metric.MeasurementOption {
	if o, ok := m.streams.Load(stream); ok {
		return o.(metric.MeasurementOption)
	}
	o, _ := m.streams.LoadOrStore(stream, metric.WithAttributeSet(attribute.NewSet(attribute.String("stream", stream))))
	return o.(metric.MeasurementOption)
}

// withShard is the attributes of a per-shard instrument.
func (m *Metrics) withShard(stream, shard string) metric.MeasurementOption {
	if !m.shardLabel {
		return m.of(stream)
	}
	return metric.WithAttributes(attribute.String("stream", stream), attribute.String("shard", shard))
}

func (m *Metrics) withCode(stream, code string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("stream", stream), attribute.String("code", code))
}

// OnRecordBuffered implements inskinesis.HookRecordBuffered.
func (m *Metrics) OnRecordBuffered(e inskinesis.RecordBuffered) {
	ctx, o := context.Background(), m.of(e.Stream)
	m.received.Add(ctx, 1, o)
	m.pending.Add(ctx, 1, o)
}

// OnRecordUnbuffered implements inskinesis.HookRecordUnbuffered.
func (m *Metrics) OnRecordUnbuffered(e inskinesis.RecordUnbuffered) {
	ctx, o := context.Background(), m.of(e.Stream)
	m.pending.Add(ctx, -1, o)
	m.retries.Record(ctx, int64(e.Retries()), o)
	m.buffering.Record(ctx, e.Buffered.Seconds(), o)
	if e.Err != nil {
		m.failed.Add(ctx, 1, o)
		if code, ok := e.ErrorCode(); ok {
			m.errors.Add(ctx, 1, m.withCode(e.Stream, code))
		}
		return
	}
	so := m.withShard(e.Stream, e.ShardID)
	m.put.Add(ctx, 1, so)
	m.putBytes.Add(ctx, int64(e.Bytes), so)
	if n, ok := e.KinesisRecord(); ok {
		m.perKinesisRecord.Record(ctx, int64(n), o)
	}
}

// OnRequestDone implements inskinesis.HookRequestDone.
func (m *Metrics) OnRequestDone(e inskinesis.RequestDone) {
	ctx, o := context.Background(), m.of(e.Stream)
	m.requestTime.Record(ctx, e.Duration.Seconds(), o)
	m.perRequest.Record(ctx, int64(e.Entries), o)
	m.kPut.Add(ctx, int64(e.WrittenEntries), o)
	m.kPutBytes.Add(ctx, int64(e.WrittenBytes), o)
	for code, n := range e.Errors() {
		m.errors.Add(ctx, int64(n), m.withCode(e.Stream, code))
	}
}

// OnThrottle implements inskinesis.HookThrottle.
func (m *Metrics) OnThrottle(e inskinesis.Throttle) {
	m.throttles.Add(context.Background(), int64(e.Entries), m.withShard(e.Stream, e.ShardID))
}

// OnRetry implements inskinesis.HookRetry.
func (m *Metrics) OnRetry(e inskinesis.Retry) {
	m.retried.Add(context.Background(), int64(e.Records), m.of(e.Stream))
}

// OnShardMap implements inskinesis.HookShardMap.
func (m *Metrics) OnShardMap(e inskinesis.ShardMap) {
	ctx := context.Background()
	if e.Err == nil {
		m.shards.Record(ctx, int64(e.Shards), m.of(e.Stream))
	}
	m.mapReads.Add(ctx, 1, metric.WithAttributes(attribute.String("stream", e.Stream), attribute.String("result", e.Result())))
}

// OnAggregation implements inskinesis.HookAggregation.
func (m *Metrics) OnAggregation(e inskinesis.Aggregation) {
	m.aggregation.Record(context.Background(), int64(e.Value()), m.of(e.Stream))
}
