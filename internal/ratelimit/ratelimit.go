// Package ratelimit paces writes to each shard of a stream with two token
// buckets, one for records and one for bytes, as the KPL does.
//
// A Kinesis shard takes 1000 records and 1 MiB per second. The KPL lets each
// shard's buckets refill at RateLimit percent of those limits, 150 by
// default: with several producers, or with throttles retried, a little more
// than the limit keeps the shard busy while Kinesis itself rejects the
// excess. The buckets hold one second of the refill rate and start full.
// (The KPL caps them at one second of the shard limit whatever the rate;
// here the cap follows the rate, so that a rate below 100 percent also bounds
// bursts.)
//
// The configured rate is a ceiling. Each shard's buckets refill at a share
// of it that adapts to what Kinesis answers, additive increase and
// multiplicative decrease as in TCP (see Limiter.Report): several producers writing to one shard each stay
// under their own ceiling and still throttle each other, and a share that
// backs off when the shard throttles lets them settle on the shard's
// capacity between them instead of trading rejected calls.
//
// The arithmetic is in integers, in units of 10^-9 token, so that results
// are exact and tests with an injected clock are deterministic.
package ratelimit

import (
	"errors"
	"sync"
	"time"
)

// Shard limits and defaults.
const (
	// ShardRecordsPerSecond is the number of records a shard takes each
	// second.
	ShardRecordsPerSecond = 1000
	// ShardBytesPerSecond is the number of bytes (data and partition keys) a
	// shard takes each second: 1 MiB.
	ShardBytesPerSecond = 1 << 20
	// DefaultPercent is the default refill rate in percent of the shard
	// limits, KPL's RateLimit default: 1500 records and 1.5 MiB per second.
	DefaultPercent = 150
	// MaxPercent is the largest Percent accepted.
	MaxPercent = 100000
)

// nano is the number of token units in one token.
const nano = int64(time.Second)

// maxCost bounds one call's cost in tokens, so that cost*nano cannot
// overflow; a larger cost is treated as this one.
const maxCost = 1 << 32

// Config configures a Limiter. The zero value is valid.
type Config struct {
	// Percent is the refill rate of each shard's buckets in percent of the
	// shard limits. Default DefaultPercent (150); at most MaxPercent.
	Percent int
	// Now is the clock. Default time.Now. Tests inject a fake one.
	Now func() time.Time
}

// ErrConfig is returned by New for a negative Percent or one above
// MaxPercent.
var ErrConfig = errors.New("ratelimit: invalid configuration")

// Limiter holds the buckets of every shard it has seen. Its methods are safe
// for concurrent use and do not allocate once a shard's buckets exist.
type Limiter struct {
	now         func() time.Time
	recordsRate int64 // tokens per second, at the full share
	bytesRate   int64

	mu      sync.Mutex
	buckets map[string]*buckets
}

// buckets are the two buckets of one shard, in token units, and the share
// of the configured rates they refill at.
type buckets struct {
	records, bytes int64
	last           time.Time
	share          int64     // of the configured rates, in parts per fullShare
	cut            time.Time // when share was last cut
	grown          time.Time // when share last grew (or was cut)
	recordsRate    int64     // recordsRate and bytesRate of the Limiter times share
	bytesRate      int64
}

// New returns a Limiter with the configuration filled in with defaults.
func New(cfg Config) (*Limiter, error) {
	if cfg.Percent < 0 || cfg.Percent > MaxPercent {
		return nil, ErrConfig
	}
	if cfg.Percent == 0 {
		cfg.Percent = DefaultPercent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{
		now:         cfg.Now,
		recordsRate: int64(ShardRecordsPerSecond) * int64(cfg.Percent) / 100,
		bytesRate:   int64(ShardBytesPerSecond) * int64(cfg.Percent) / 100,
		buckets:     make(map[string]*buckets),
	}, nil
}

// Rates returns the configured refill rates, in records and bytes per
// second: the ceiling of each shard's rates (see ShardRates), and of the
// buckets' capacities.
func (l *Limiter) Rates() (recordsPerSecond, bytesPerSecond int) {
	return int(l.recordsRate), int(l.bytesRate)
}

// Allow takes records and bytes tokens from the shard's buckets and reports
// true if both hold enough now; otherwise it takes nothing and reports
// false. It is Take(...) == 0.
func (l *Limiter) Allow(shardID string, records, bytes int) bool {
	return l.Take(shardID, records, bytes) == 0
}

// Take takes records and bytes tokens from the shard's buckets and returns 0
// if both hold enough now. Otherwise it takes nothing and returns how long
// until both will, at which time a new Take with the same arguments succeeds
// unless other takes came first; a scheduler can sleep that long instead of
// polling.
//
// A request larger than a bucket's capacity (more than one second's worth,
// for example a 10 MiB request at 1.5 MiB/s) succeeds when that bucket is
// full, and leaves it in debt: the shard's later requests wait until the
// debt is repaid. Negative counts are taken as 0.
func (l *Limiter) Take(shardID string, records, bytes int) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketsFor(shardID, now)
	recCost, recNeed := l.cost(records, b.recordsRate)
	byteCost, byteNeed := l.cost(bytes, b.bytesRate)
	wait := max(waitFor(b.records, recNeed, b.recordsRate), waitFor(b.bytes, byteNeed, b.bytesRate))
	if wait > 0 {
		return wait
	}
	b.records -= recCost
	b.bytes -= byteCost
	return 0
}

// Delay returns how long until Take with these arguments would succeed,
// without taking anything: 0 when it would now.
func (l *Limiter) Delay(shardID string, records, bytes int) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketsFor(shardID, now)
	_, recNeed := l.cost(records, b.recordsRate)
	_, byteNeed := l.cost(bytes, b.bytesRate)
	return max(waitFor(b.records, recNeed, b.recordsRate), waitFor(b.bytes, byteNeed, b.bytesRate))
}

// Forget drops the shard's buckets, for a shard that has closed. A later
// call for it starts with full buckets.
func (l *Limiter) Forget(shardID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, shardID)
}

// Retain drops the buckets of every shard for which keep returns false, for
// example those missing from a refreshed shard map. keep is called with the
// Limiter locked and must not call back into it.
func (l *Limiter) Retain(keep func(shardID string) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.buckets {
		if !keep(id) {
			delete(l.buckets, id)
		}
	}
}

// Len returns the number of shards with buckets.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// bucketsFor returns the shard's buckets refilled up to now, creating full
// ones for a new shard. l.mu is held.
func (l *Limiter) bucketsFor(shardID string, now time.Time) *buckets {
	b, ok := l.buckets[shardID]
	if !ok {
		b = &buckets{records: l.recordsRate * nano, bytes: l.bytesRate * nano, last: now, grown: now}
		l.setShare(b, fullShare)
		l.buckets[shardID] = b
		return b
	}
	elapsed := int64(now.Sub(b.last))
	if elapsed <= 0 {
		return b // a clock that stands still or goes back adds nothing
	}
	b.last = now
	b.records = refill(b.records, b.recordsRate, elapsed)
	b.bytes = refill(b.bytes, b.bytesRate, elapsed)
	return b
}

// drain empties the buckets, so that the shard's next requests wait for
// fresh tokens. Buckets in debt keep their debt. l.mu is held.
func (b *buckets) drain() {
	b.records = min(b.records, 0)
	b.bytes = min(b.bytes, 0)
}

// refill adds rate tokens per second for elapsed nanoseconds, up to the
// capacity of one second's worth. One token unit accrues per nanosecond for
// each token per second of rate.
func refill(tokens, rate, elapsed int64) int64 {
	capacity := rate * nano
	missing := capacity - tokens
	if missing <= 0 {
		return tokens
	}
	if rate == 0 || elapsed >= missing/rate+1 {
		return capacity
	}
	return tokens + rate*elapsed
}

// cost returns what a request of n tokens takes from a bucket, and how many
// units the bucket must hold first: n itself, or the whole capacity for a
// request larger than it.
func (l *Limiter) cost(n int, rate int64) (take, need int64) {
	c := int64(max(n, 0))
	c = min(c, maxCost)
	take = c * nano
	return take, min(take, rate*nano)
}

// waitFor returns how long until a bucket holding tokens units, refilling at
// rate, holds need units.
func waitFor(tokens, need, rate int64) time.Duration {
	if tokens >= need {
		return 0
	}
	if rate == 0 {
		return time.Duration(1<<63 - 1)
	}
	missing := need - tokens
	return time.Duration((missing + rate - 1) / rate) // ceil, in nanoseconds
}
