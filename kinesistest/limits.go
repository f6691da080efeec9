package kinesistest

import (
	"errors"
	"time"
)

// ShardLimits are the per-shard write rates the server enforces, each as a
// token bucket that holds one second's worth of tokens (the burst) and
// refills continuously from the server's clock (see WithClock). A zero field
// leaves that dimension unlimited. A record is admitted when both buckets
// hold at least its cost, or at least a full second's worth when the record
// costs more than that (a record larger than the byte rate is admitted from a
// full bucket and drives the bucket into debt that refills at the same rate).
// A record that is not admitted takes no tokens.
type ShardLimits struct {
	// BytesPerSecond is the data plus partition key bytes a shard accepts per
	// second. AWS: 1 MiB (1048576).
	BytesPerSecond int64
	// RecordsPerSecond is the records a shard accepts per second. AWS: 1000.
	RecordsPerSecond int64
}

// AWSShardLimits returns the write limits of a provisioned Kinesis shard:
// 1 MiB and 1000 records per second, partition keys included.
func AWSShardLimits() ShardLimits {
	return ShardLimits{BytesPerSecond: 1 << 20, RecordsPerSecond: 1000}
}

// maxRate keeps rate times one second in nanoseconds within an int64.
const maxRate = int64(9e9)

func (l ShardLimits) validate() error {
	if l.BytesPerSecond < 0 || l.RecordsPerSecond < 0 {
		return errors.New("kinesistest: ShardLimits must not be negative")
	}
	if l.BytesPerSecond > maxRate || l.RecordsPerSecond > maxRate {
		return errors.New("kinesistest: ShardLimits above 9e9 per second are not supported; use 0 for unlimited")
	}
	return nil
}

func (l ShardLimits) enabled() bool { return l.BytesPerSecond > 0 || l.RecordsPerSecond > 0 }

// bucket is a pair of token buckets. Tokens are kept in units of
// 1/1e9 of a byte or record so that refills by elapsed nanoseconds are exact
// integers: the outcome depends only on the clock readings, never on
// floating-point rounding.
type bucket struct {
	init         bool
	last         time.Time
	bytes, recds int64
}

const scale = int64(time.Second)

func (b *bucket) refill(now time.Time, l ShardLimits) {
	if !b.init {
		b.init, b.last = true, now
		b.bytes, b.recds = l.BytesPerSecond*scale, l.RecordsPerSecond*scale
		return
	}
	elapsed := int64(now.Sub(b.last))
	if elapsed <= 0 {
		return // a clock that stands still or goes back adds nothing
	}
	b.last = now
	b.bytes = refillOne(b.bytes, elapsed, l.BytesPerSecond)
	b.recds = refillOne(b.recds, elapsed, l.RecordsPerSecond)
}

func refillOne(tokens, elapsed, rate int64) int64 {
	if rate == 0 {
		return tokens
	}
	full := rate * scale
	missing := full - tokens
	if missing <= 0 {
		return tokens
	}
	// elapsed*rate could overflow for long gaps: compare first.
	if elapsed >= (missing+rate-1)/rate {
		return full
	}
	return tokens + elapsed*rate
}

// take admits a record of size bytes at time now, or reports false and takes
// nothing.
func (b *bucket) take(now time.Time, l ShardLimits, size int) bool {
	b.refill(now, l)
	need := func(cost, rate int64) int64 { return min(cost, rate) * scale }
	if l.BytesPerSecond > 0 && b.bytes < need(int64(size), l.BytesPerSecond) {
		return false
	}
	if l.RecordsPerSecond > 0 && b.recds < need(1, l.RecordsPerSecond) {
		return false
	}
	if l.BytesPerSecond > 0 {
		b.bytes -= int64(size) * scale
	}
	if l.RecordsPerSecond > 0 {
		b.recds -= scale
	}
	return true
}
