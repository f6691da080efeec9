package ratelimit

import "time"

// How a shard's share of the configured rates adapts: additive increase,
// multiplicative decrease (AIMD), as TCP adapts its window. A share is kept
// in parts per fullShare.
//
// The constants were chosen with BenchmarkSharedShardRateLimit (package
// bench: three producers writing to one shard, each allowed the whole
// shard, and one producer alone):
//
//   - A cut takes cutPerEntry (4) records per second off the shard's rate
//     for each entry Kinesis throttled in the call, at most half the rate:
//     a multiplicative cut whose factor grows with how far the shard was
//     overdriven, as DCTCP cuts by the share of its packets that were
//     marked. A shard offered three times its capacity refuses most of a
//     call and is cut hard (up to half, TCP's cut), while a lone throttle
//     of a producer that runs at the shard's own rate (its requests arrive
//     a little unevenly) costs 4 records/s, not a quarter of the rate. A
//     fixed cut of a quarter was measured too: it met the shared target,
//     but one producer alone lost 17 % of its throughput to one throttle
//     at start-up, which took 12 s to regain.
//   - increasePerSecond: 2 % of the ceiling (20 records/s at 100 %) is
//     regained per second while the shard's calls succeed. At equilibrium
//     the producers sharing a shard are throttled about as many entries as
//     it takes to cancel their growth: 20 / 4 = 5 entries per second each,
//     under 2 % of a shard's 1000 records/s with three producers (1.5 %
//     was measured). Faster growth throttles more; slower growth takes
//     longer to use room that frees up (from half the rate back to the
//     ceiling: 25 s).
//   - minShare: 1 % of the ceiling; a shard is never shut off, so that its
//     successes can still tell the limiter that it has room again.
//   - One cut per round trip: a throttle does not cut for a call sent
//     before the shard's last cut, which was sent at the old rate; the
//     calls in flight together are one burst, answered by one cut.
const (
	fullShare         = 1_000_000
	increasePerSecond = fullShare / 50
	cutPerEntry       = 4
	minShare          = fullShare / 100
	// maxGrowStep bounds the time one success counts for, so that a shard
	// idle for minutes regains its rate as its calls succeed rather than
	// at once.
	maxGrowStep = time.Second
)

// Report tells the limiter what Kinesis answered for the shard's entries
// of one request sent at sent: how many it took and how many it throttled.
//
// When it throttled some, Report drains the shard's buckets and cuts the
// shard's rate by 4 records per second for each throttled entry, at most by
// half and down to 1 % of the configured rate (the bytes rate in the same
// proportion), and reports true. It does not cut for a request sent before
// the shard's last cut: the throttles of one burst (the calls that were in
// flight together) cut once, not once each.
//
// When it took them all, the shard's rate grows by 2 % of the configured
// rate for each second since it last grew or was cut, counting at most one
// second per report, up to the configured rate.
func (l *Limiter) Report(shardID string, sent time.Time, delivered, throttled int) (cut bool) {
	if throttled <= 0 && delivered <= 0 {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketsFor(shardID, now)
	if throttled > 0 {
		b.drain()
		if sent.Before(b.cut) {
			return false
		}
		k := min(int64(throttled), maxCost)
		cut := min(b.share*cutPerEntry*k/b.recordsRate, b.share/2)
		l.setShare(b, max(b.share-cut, minShare))
		b.cut, b.grown = now, now
		return true
	}
	if b.share >= fullShare {
		b.grown = now
		return false
	}
	elapsed := now.Sub(b.grown)
	if elapsed <= 0 {
		return false
	}
	b.grown = now
	elapsed = min(elapsed, maxGrowStep)
	grow := int64(increasePerSecond) * int64(elapsed) / int64(time.Second)
	l.setShare(b, min(b.share+grow, fullShare))
	return false
}

// ShardRates returns the rates, in records and bytes per second, that the
// shard's buckets refill at now: the configured rates (Rates) for a shard
// not seen yet or not throttled lately.
func (l *Limiter) ShardRates(shardID string) (recordsPerSecond, bytesPerSecond int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[shardID]
	if !ok {
		return int(l.recordsRate), int(l.bytesRate)
	}
	return int(b.recordsRate), int(b.bytesRate)
}

// setShare sets the shard's share and its rates, and trims the buckets to
// their new capacity, one second of the new rates. l.mu is held.
func (l *Limiter) setShare(b *buckets, share int64) {
	b.share = share
	b.recordsRate = scaleRate(l.recordsRate, share)
	b.bytesRate = scaleRate(l.bytesRate, share)
	b.records = min(b.records, b.recordsRate*nano)
	b.bytes = min(b.bytes, b.bytesRate*nano)
}

// scaleRate returns rate times share, at least 1 token per second unless
// rate is 0. rate is at most about 1.6e9 (MaxPercent of 1 MiB) and share at
// most 1e6, so the product fits.
func scaleRate(rate, share int64) int64 {
	if rate == 0 {
		return 0
	}
	return max(rate*share/fullShare, 1)
}
