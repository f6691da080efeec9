package ratelimit

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newLimiter(t testing.TB, percent int) (*Limiter, *clock) {
	t.Helper()
	c := newClock()
	l, err := New(Config{Percent: percent, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

// perToken is the time one token takes to accrue at rate tokens per second,
// rounded up.
func perToken(rate int64) time.Duration {
	return time.Duration((int64(time.Second) + rate - 1) / rate)
}

func TestDefaultRates(t *testing.T) {
	l, _ := newLimiter(t, 0)
	if r, b := l.Rates(); r != 1500 || b != 1572864 {
		t.Fatalf("Rates = %d records/s, %d bytes/s; want 1500 and 1.5 MiB", r, b)
	}
	l, _ = newLimiter(t, 100)
	if r, b := l.Rates(); r != ShardRecordsPerSecond || b != ShardBytesPerSecond {
		t.Fatalf("Rates at 100%% = %d, %d", r, b)
	}
}

func TestNewRejectsBadPercent(t *testing.T) {
	for _, p := range []int{-1, MaxPercent + 1} {
		if _, err := New(Config{Percent: p}); !errors.Is(err, ErrConfig) {
			t.Fatalf("New(Percent %d) error = %v, want ErrConfig", p, err)
		}
	}
	if _, err := New(Config{Percent: MaxPercent}); err != nil {
		t.Fatal(err)
	}
}

func TestRecordsBucket(t *testing.T) {
	l, c := newLimiter(t, 0)
	if !l.Allow("s", 1500, 0) {
		t.Fatal("a new shard's bucket does not start full")
	}
	if l.Allow("s", 1, 0) {
		t.Fatal("an empty bucket gave a token")
	}
	one := perToken(1500) // 666667 ns
	if d := l.Delay("s", 1, 0); d != one {
		t.Fatalf("Delay = %v, want %v", d, one)
	}
	if d := l.Take("s", 1, 0); d != one {
		t.Fatalf("Take = %v, want %v", d, one)
	}
	c.Advance(one - 1)
	if l.Allow("s", 1, 0) {
		t.Fatal("a token came before its time")
	}
	c.Advance(1)
	if !l.Allow("s", 1, 0) {
		t.Fatal("no token when Delay said there would be")
	}
	if l.Allow("s", 1, 0) {
		t.Fatal("two tokens after the time of one")
	}
}

func TestBytesBucket(t *testing.T) {
	l, c := newLimiter(t, 100)
	if !l.Allow("s", 1, ShardBytesPerSecond) {
		t.Fatal("a full bucket refused its capacity")
	}
	// 512 KiB at 1 MiB/s: half a second exactly.
	if d := l.Delay("s", 0, 512<<10); d != 500*time.Millisecond {
		t.Fatalf("Delay = %v, want 500ms", d)
	}
	c.Advance(500 * time.Millisecond)
	if !l.Allow("s", 0, 512<<10) {
		t.Fatal("refused after the delay")
	}
}

func TestBothBucketsMustHold(t *testing.T) {
	l, c := newLimiter(t, 100)
	l.Allow("s", 1000, 0) // records empty, bytes full
	if l.Allow("s", 1, 1) {
		t.Fatal("allowed with the records bucket empty")
	}
	if d := l.Delay("s", 1, 1); d != time.Millisecond {
		t.Fatalf("Delay = %v, want the records bucket's 1ms", d)
	}
	if !l.Allow("s", 0, 100) {
		t.Fatal("a request for bytes alone was refused")
	}
	c.Advance(time.Second)
	l.Allow("s", 0, ShardBytesPerSecond) // bytes empty, records full
	// 1024 bytes at 1 MiB/s: 976562.5ns, rounded up.
	if d, want := l.Delay("s", 1, 1024), 976563*time.Nanosecond; d != want {
		t.Fatalf("Delay = %v, want the bytes bucket's %v", d, want)
	}
	// A refused Take takes nothing from the bucket that held enough.
	if l.Take("s", 1000, 1) == 0 {
		t.Fatal("allowed with the bytes bucket empty")
	}
	if !l.Allow("s", 1000, 0) {
		t.Fatal("a refused Take took records tokens")
	}
}

func TestCapacityIsOneSecond(t *testing.T) {
	l, c := newLimiter(t, 0)
	l.Allow("s", 1500, 0)
	c.Advance(time.Hour)
	if !l.Allow("s", 1500, 0) {
		t.Fatal("the bucket did not refill")
	}
	if l.Allow("s", 1, 0) {
		t.Fatal("the bucket held more than one second of tokens")
	}
}

func TestOversizedRequestRunsIntoDebt(t *testing.T) {
	l, c := newLimiter(t, 100)
	big := 10 << 20 // 10 MiB at 1 MiB/s
	l.Allow("s", 0, 1)
	if d := l.Delay("s", 0, big); d != perToken(ShardBytesPerSecond) {
		t.Fatalf("Delay = %v, want the time for the bucket to be full again", d)
	}
	c.Advance(time.Second)
	if !l.Allow("s", 1, big) {
		t.Fatal("an oversized request was refused by a full bucket")
	}
	// The debt is 9 MiB; one more byte needs 9 MiB + 1 byte of refill.
	want := time.Duration(((9<<20+1)*int64(time.Second) + ShardBytesPerSecond - 1) / ShardBytesPerSecond)
	if d := l.Delay("s", 0, 1); d != want {
		t.Fatalf("Delay after the debt = %v, want %v", d, want)
	}
	c.Advance(want)
	if !l.Allow("s", 0, 1) {
		t.Fatal("refused once the debt was repaid")
	}
	if d := l.Delay("s", 0, 1<<30); d <= 0 {
		t.Fatal("a request far beyond the capacity reports no delay on an empty bucket")
	}
}

func TestShardsAreIndependent(t *testing.T) {
	l, _ := newLimiter(t, 0)
	l.Allow("a", 1500, 0)
	if !l.Allow("b", 1500, 0) {
		t.Fatal("one shard's use drained another's bucket")
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d", l.Len())
	}
}

func TestThrottleForgetRetain(t *testing.T) {
	l, c := newLimiter(t, 0)
	l.Report("a", c.Now(), 0, 1)
	if l.Allow("a", 1, 0) {
		t.Fatal("a throttled shard's bucket gave a token")
	}
	l.Forget("a")
	if !l.Allow("a", 1500, 0) {
		t.Fatal("a forgotten shard did not start full")
	}
	l.Allow("b", 1, 0)
	l.Allow("c", 1, 0)
	l.Retain(func(id string) bool { return id == "b" })
	if l.Len() != 1 {
		t.Fatalf("Len after Retain = %d, want 1", l.Len())
	}
	if l.Allow("b", 1500, 0) {
		t.Fatal("Retain reset a kept shard")
	}
}

func TestClockGoingBackAddsNothing(t *testing.T) {
	l, c := newLimiter(t, 0)
	l.Allow("s", 1500, 0)
	c.Advance(-time.Hour)
	if l.Allow("s", 1, 0) {
		t.Fatal("a clock going back added tokens")
	}
	c.Advance(time.Hour + time.Second)
	if !l.Allow("s", 1500, 0) {
		t.Fatal("the bucket did not refill once the clock went on")
	}
}

func TestNegativeCountsCostNothing(t *testing.T) {
	l, _ := newLimiter(t, 0)
	l.Allow("s", 1500, 0)
	if !l.Allow("s", -5, -5) {
		t.Fatal("a negative request was refused")
	}
}

func TestConcurrentTakesNeverOvergrant(t *testing.T) {
	l, _ := newLimiter(t, 0) // the fake clock stands still
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if l.Allow("s", 1, 100) {
					granted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := granted.Load(); got != 1500 {
		t.Fatalf("%d single-record takes granted from a 1500-record bucket, want 1500", got)
	}
}

func TestAllowDoesNotAllocate(t *testing.T) {
	l, _ := newLimiter(t, 0)
	id := fmt.Sprint("shardId-", 1)
	l.Allow(id, 1, 1)
	if allocs := testing.AllocsPerRun(100, func() { l.Allow(id, 1, 1); l.Delay(id, 1, 1) }); allocs != 0 {
		t.Fatalf("Allow allocates %v times", allocs)
	}
}

func BenchmarkAllow(b *testing.B) {
	l, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = fmt.Sprintf("shardId-%012d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(ids[i&63], 1, 100)
		i++
	}
}
