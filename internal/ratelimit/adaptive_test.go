package ratelimit

import (
	"testing"
	"time"
)

func shardRecords(l *Limiter, id string) int {
	r, _ := l.ShardRates(id)
	return r
}

func TestReportCutsByThrottledEntries(t *testing.T) {
	cases := []struct {
		name      string
		throttled int
		want      int // records/s after one cut from 1000
	}{
		{"one entry", 1, 996},
		{"ten entries", 10, 960},
		{"a hundred entries", 100, 600},
		{"more than half the rate's worth: half", 400, 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, c := newLimiter(t, 100)
			sent := c.Now()
			if !l.Report("s", sent, 5, tc.throttled) {
				t.Fatal("Report did not cut")
			}
			if got := shardRecords(l, "s"); got != tc.want {
				t.Fatalf("records/s after the cut = %d, want %d", got, tc.want)
			}
			_, bytes := l.ShardRates("s")
			if want := ShardBytesPerSecond * tc.want / 1000; bytes < want-1 || bytes > want+1 {
				t.Fatalf("bytes/s after the cut = %d, want about %d: the bytes rate follows", bytes, want)
			}
		})
	}
}

func TestReportCutsOncePerRoundTrip(t *testing.T) {
	l, c := newLimiter(t, 100)
	before := c.Now()
	c.Advance(10 * time.Millisecond)
	if !l.Report("s", before, 0, 100) {
		t.Fatal("the first throttle did not cut")
	}
	after := shardRecords(l, "s")
	// Calls sent before the cut answer later: the same burst.
	c.Advance(time.Millisecond)
	for range 5 {
		if l.Report("s", before, 0, 100) {
			t.Fatal("a call sent before the cut cut again")
		}
	}
	if got := shardRecords(l, "s"); got != after {
		t.Fatalf("records/s = %d after throttles of calls sent before the cut, want %d", got, after)
	}
	// A call sent after the cut, at the new rate, and throttled: cut again.
	sent := c.Now()
	c.Advance(time.Millisecond)
	if !l.Report("s", sent, 0, 100) {
		t.Fatal("a call sent after the cut did not cut")
	}
	if got := shardRecords(l, "s"); got >= after {
		t.Fatalf("records/s = %d after a second cut, want below %d", got, after)
	}
}

func TestReportCutIsPerShard(t *testing.T) {
	l, c := newLimiter(t, 100)
	l.Allow("cold", 1, 1)
	l.Report("hot", c.Now(), 0, 100)
	if got := shardRecords(l, "cold"); got != 1000 {
		t.Fatalf("the cold shard's rate = %d after the hot one throttled, want 1000", got)
	}
	if !l.Allow("cold", 999, 0) {
		t.Fatal("the cold shard's bucket was drained by the hot one's throttle")
	}
	if l.Allow("hot", 1, 0) {
		t.Fatal("the throttled shard's bucket was not drained")
	}
}

func TestReportFloor(t *testing.T) {
	l, c := newLimiter(t, 100)
	for range 50 {
		sent := c.Now()
		c.Advance(time.Millisecond)
		l.Report("s", sent, 0, 500)
	}
	if got := shardRecords(l, "s"); got != 10 {
		t.Fatalf("records/s after 50 cuts = %d, want the floor of 10 (1 %%)", got)
	}
	// The floor still lets records through.
	c.Advance(time.Second)
	if !l.Allow("s", 10, 0) {
		t.Fatal("a shard at the floor gives no tokens")
	}
}

func TestReportGrowsAdditivelyUpToTheCeiling(t *testing.T) {
	l, c := newLimiter(t, 100)
	sent := c.Now()
	l.Report("s", sent, 0, 400) // 500 records/s
	if got := shardRecords(l, "s"); got != 500 {
		t.Fatalf("records/s after the cut = %d, want 500", got)
	}
	// 2 % of 1000 records/s per second, reported 10 times a second.
	for range 50 {
		c.Advance(100 * time.Millisecond)
		l.Report("s", c.Now(), 10, 0)
	}
	if got := shardRecords(l, "s"); got != 600 {
		t.Fatalf("records/s after 5 s of successes = %d, want 600", got)
	}
	for range 300 {
		c.Advance(100 * time.Millisecond)
		l.Report("s", c.Now(), 10, 0)
	}
	if got := shardRecords(l, "s"); got != 1000 {
		t.Fatalf("records/s after 35 s of successes = %d, want the ceiling, 1000", got)
	}
}

func TestReportGrowthCountsAtMostASecondPerSuccess(t *testing.T) {
	l, c := newLimiter(t, 100)
	l.Report("s", c.Now(), 0, 400) // 500 records/s
	c.Advance(time.Hour)           // idle
	l.Report("s", c.Now(), 1, 0)
	if got := shardRecords(l, "s"); got != 520 {
		t.Fatalf("records/s after one success following an hour idle = %d, want 520", got)
	}
}

func TestReportWithoutThrottlesOrSuccessesChangesNothing(t *testing.T) {
	l, c := newLimiter(t, 100)
	if l.Report("s", c.Now(), 0, 0) {
		t.Fatal("an empty report cut")
	}
	if l.Len() != 0 {
		t.Fatal("an empty report created buckets")
	}
}

func TestCutTrimsTheBurst(t *testing.T) {
	l, c := newLimiter(t, 100)
	l.Report("s", c.Now(), 0, 400) // 500 records/s, buckets drained
	c.Advance(time.Hour)
	if !l.Allow("s", 500, 0) {
		t.Fatal("the bucket does not hold one second of the cut rate")
	}
	if l.Allow("s", 1, 0) {
		t.Fatal("after a cut to 500 records/s the bucket holds more than one second of it")
	}
}

func TestReportDoesNotAllocate(t *testing.T) {
	l, c := newLimiter(t, 100)
	l.Allow("s", 1, 1)
	if allocs := testing.AllocsPerRun(100, func() {
		l.Report("s", c.Now(), 1, 1)
		l.Report("s", c.Now(), 3, 0)
	}); allocs != 0 {
		t.Fatalf("Report allocates %v times", allocs)
	}
}
