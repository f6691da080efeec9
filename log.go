package inskinesis

import (
	"context"
	"log/slog"
	"time"
)

// logEvery bounds how often the stream logs repeated trouble (throttling,
// failed records): one line stands for everything since the previous one.
const logEvery = 10 * time.Second

// logger writes a stream's log lines, each with the stream's name. Only the
// loop goroutine uses its tallies, so they need no lock.
type logger struct {
	l         *slog.Logger
	every     time.Duration
	throttled tally
	failed    tally
}

// tally counts repeated events by code between two log lines.
type tally struct {
	last  time.Time // when the last line was written; zero: never
	n     int
	codes []CodeCount
}

func newLogger(l *slog.Logger, stream string) *logger {
	if l == nil {
		return nil
	}
	return &logger{l: l.With(slog.String("stream", stream)), every: logEvery}
}

// add counts n events of code and reports whether a line is due: the first
// event, or the first after every has passed since the last line.
func (t *tally) add(now time.Time, every time.Duration, code string, n int) bool {
	t.n += n
	t.codes = countCode(t.codes, code, n, 0)
	return t.last.IsZero() || now.Sub(t.last) >= every
}

// take returns the attributes of a line for what was counted, and starts
// counting again.
func (t *tally) take(now time.Time) []any {
	byCode := make([]any, 0, len(t.codes))
	for _, c := range t.codes {
		byCode = append(byCode, slog.Int(c.Code, c.Entries))
	}
	attrs := []any{slog.Int("count", t.n), slog.Group("by_code", byCode...)}
	if !t.last.IsZero() {
		attrs = append(attrs, slog.Duration("since_last", now.Sub(t.last)))
	}
	t.last = now
	t.n = 0
	t.codes = t.codes[:0]
	return attrs
}

func (g *logger) started(set settings) {
	g.l.LogAttrs(context.Background(), slog.LevelInfo, "inskinesis: stream started",
		slog.Int("max_stream_batch_size", set.batchRecords),
		slog.Int("max_stream_batch_bytes", set.batchBytes),
		slog.Int("max_batch_size", set.bufferRecords),
		slog.Int("max_buffered_bytes", set.bufferBytes),
		slog.Int("max_group", set.maxGroup),
		slog.Int("retry_count", set.retryCount),
		slog.Duration("flush_interval", set.flushInterval),
		slog.Duration("request_timeout", set.requestTimeout),
		slog.Duration("record_ttl", set.recordTTL),
		slog.Bool("order_by_key", set.orderByKey),
		slog.Bool("aggregate", set.aggregate),
		slog.Int("shard_rate_limit", set.rateLimit),
	)
}

// shardMap logs a read of the shard map: its failure as a warning, the
// first map and a new one at Info, an unchanged one at Debug. before is the
// number of shards in the map before the read; first is true for the read
// of NewKinesis.
func (g *logger) shardMap(e ShardMap, before int, first bool) {
	ctx := context.Background()
	switch {
	case e.Err != nil && first:
		g.l.LogAttrs(ctx, slog.LevelWarn, "inskinesis: shard map read failed",
			slog.Any("error", e.Err), slog.Duration("duration", e.Duration))
	case e.Err != nil:
		g.l.LogAttrs(ctx, slog.LevelWarn, "inskinesis: shard map read failed; keeping the old map",
			slog.Any("error", e.Err), slog.Int("shards", e.Shards), slog.Duration("duration", e.Duration))
	case first:
		g.l.LogAttrs(ctx, slog.LevelInfo, "inskinesis: shard map read",
			slog.Int("shards", e.Shards), slog.Duration("duration", e.Duration))
	case e.Changed:
		g.l.LogAttrs(ctx, slog.LevelInfo, "inskinesis: shard map changed",
			slog.Int("shards", e.Shards), slog.Int("shards_before", before), slog.Duration("duration", e.Duration))
	default:
		g.l.LogAttrs(ctx, slog.LevelDebug, "inskinesis: shard map read",
			slog.Int("shards", e.Shards), slog.Duration("duration", e.Duration))
	}
}

func (g *logger) aggregation(on bool, reason string) {
	msg := "inskinesis: aggregation turned off"
	if on {
		msg = "inskinesis: aggregation turned on"
	}
	g.l.LogAttrs(context.Background(), slog.LevelInfo, msg, slog.String("reason", reason))
}

// spoolClose reports that the spool could not be closed cleanly (its last
// sync failed): records settled since the previous sync may be sent again by
// the next stream on the directory.
func (g *logger) spoolClose(err error) {
	g.l.LogAttrs(context.Background(), slog.LevelError, "inskinesis: closing the spool failed", slog.String("error", err.Error()))
}

// spoolLost reports records the spool could not read back.
func (g *logger) spoolLost(err error) {
	g.l.LogAttrs(context.Background(), slog.LevelError, "inskinesis: records in the spool could not be read back and are lost", slog.String("error", err.Error()))
}

// summaryUnreadable warns that the stream summary could not be read, so
// that an AUTO stream would go unnoticed.
func (g *logger) summaryUnreadable(err error) {
	g.l.LogAttrs(context.Background(), slog.LevelWarn,
		"inskinesis: cannot read the stream summary; the stream keeps its last known record distribution (streams with service-managed distribution need kinesis:DescribeStreamSummary, or aggregates are dropped by consumers)",
		slog.String("error", err.Error()))
}

// throttled counts n throttled entries and logs a warning at most once per
// every.
func (g *logger) throttle(now time.Time, code string, n int) {
	if g.throttled.add(now, g.every, code, n) {
		g.l.Warn("inskinesis: Kinesis is throttling the stream", g.throttled.take(now)...)
	}
}

// fail counts n records given up on and logs an error at most once per
// every.
func (g *logger) fail(now time.Time, code string, n int) {
	if g.failed.add(now, g.every, code, n) {
		g.l.Error("inskinesis: records not delivered", g.failed.take(now)...)
	}
}

// stopped logs what the tallies hold still and the stream's totals.
func (g *logger) stopped(now time.Time, st Stats, aborted int) {
	if g.throttled.n > 0 {
		g.l.Warn("inskinesis: Kinesis is throttling the stream", g.throttled.take(now)...)
	}
	if g.failed.n > 0 {
		g.l.Error("inskinesis: records not delivered", g.failed.take(now)...)
	}
	level := slog.LevelInfo
	if st.Failed > 0 {
		level = slog.LevelWarn
	}
	g.l.LogAttrs(context.Background(), level, "inskinesis: stream stopped",
		slog.Int64("delivered", st.Delivered),
		slog.Int64("delivered_bytes", st.DeliveredBytes),
		slog.Int64("failed", st.Failed),
		slog.Int("aborted", aborted),
		slog.Int64("requests", st.Requests),
		slog.Int64("retried", st.Retried),
		slog.Int64("throttled", st.Throttled),
		slog.Int64("errors_dropped", st.ErrorsDropped),
	)
}
