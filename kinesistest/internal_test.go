package kinesistest

import (
	"math/big"
	"testing"
	"time"
)

func TestParseDecimalU128(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"zero", "0", true},
		{"one", "1", true},
		{"2^64 crosses the low word", "18446744073709551616", true},
		{"2^128-1 is the largest", max.String(), true},
		{"2^128 overflows", new(big.Int).Add(max, big.NewInt(1)).String(), false},
		{"40 digits overflow", "9999999999999999999999999999999999999999", false},
		{"empty", "", false},
		{"a letter", "12a", false},
		{"a sign", "-1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := parseDecimalU128(tc.in)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && v.String() != tc.in {
				t.Errorf("round trip = %s, want %s", v, tc.in)
			}
		})
	}
}

func TestEvenHashRanges(t *testing.T) {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, n := range []int{1, 2, 3, 7, 10, 1000} {
		rs := evenHashRanges(n)
		w := new(big.Int).Div(space, big.NewInt(int64(n)))
		next := big.NewInt(0)
		for i, r := range rs {
			start, end := r[0].big(), r[1].big()
			if start.Cmp(next) != 0 {
				t.Fatalf("n=%d shard %d starts at %s, want %s (a gap or overlap)", n, i, start, next)
			}
			wantStart := new(big.Int).Mul(w, big.NewInt(int64(i)))
			if start.Cmp(wantStart) != 0 {
				t.Errorf("n=%d shard %d starts at %s, want i*floor(2^128/n) = %s", n, i, start, wantStart)
			}
			next = new(big.Int).Add(end, big.NewInt(1))
		}
		if next.Cmp(space) != 0 {
			t.Errorf("n=%d: the last shard ends at %s, want 2^128-1", n, new(big.Int).Sub(next, big.NewInt(1)))
		}
	}
}

func TestHashKeyIsMD5BigEndian(t *testing.T) {
	// MD5("a") = 0cc175b9c0f1b6a831c399e269772661.
	want, _ := new(big.Int).SetString("0cc175b9c0f1b6a831c399e269772661", 16)
	if got := HashKey("a"); got.Cmp(want) != 0 {
		t.Errorf("HashKey(a) = %s, want %s", got, want)
	}
}

func TestSequenceNumbers(t *testing.T) {
	a := formatSeq(7, 41, 3)
	b := formatSeq(7, 42, 3)
	c := formatSeq(7, 43, 0)
	for _, s := range []string{a, b, c} {
		if len(s) != 56 || !isSequenceNumberForm(s) {
			t.Fatalf("%s is not a 56-digit AWS sequence number", s)
		}
	}
	ai, _ := new(big.Int).SetString(a, 10)
	bi, _ := new(big.Int).SetString(b, 10)
	ci, _ := new(big.Int).SetString(c, 10)
	if ai.Cmp(bi) >= 0 || bi.Cmp(ci) >= 0 {
		t.Errorf("sequence numbers do not follow the counter across shards: %s %s %s", a, b, c)
	}
	p, ok := parseSeq(b)
	if !ok || p != (seqParts{epoch: 7, counter: 42, shardIdx: 3}) {
		t.Errorf("parseSeq(%s) = %+v, %v", b, p, ok)
	}
	for _, bad := range []string{"", "0", "1" + b[1:], b[:55], b + "0"} {
		if _, ok := parseSeq(bad); ok {
			t.Errorf("parseSeq(%q) accepted", bad)
		}
	}
}

func TestBucket(t *testing.T) {
	type step struct {
		at   time.Duration // since t0
		size int
		want bool // admitted
	}
	l := ShardLimits{BytesPerSecond: 1000, RecordsPerSecond: 10}
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name  string
		steps []step
	}{
		{"a full bucket admits one second's worth of records and no more", []step{{0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, false}, {100 * time.Millisecond, 1, true}, {100 * time.Millisecond, 1, false}}},
		{"bytes refill at the byte rate", []step{{0, 600, true}, {0, 600, false}, {199 * time.Millisecond, 600, false}, {200 * time.Millisecond, 600, true}}},
		{"a record larger than the rate goes through a full bucket into debt", []step{{0, 3000, true}, {time.Second, 1, false}, {3 * time.Second, 1, true}}},
		{"a refused record takes nothing", []step{{0, 900, true}, {0, 200, false}, {0, 100, true}}},
		{"a clock going back adds nothing", []step{{time.Second, 1000, true}, {0, 1, false}, {time.Second, 1, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bucket
			for i, s := range tc.steps {
				if got := b.take(t0.Add(s.at), l, s.size); got != s.want {
					t.Fatalf("step %d (%v, %d bytes) = %v, want %v", i, s.at, s.size, got, s.want)
				}
			}
		})
	}
}

func TestIteratorRoundTrip(t *testing.T) {
	it := iterator{epoch: 3, shard: 12, pos: 99999, issued: 1234567890123, stream: "a.b_c-d"}
	got, ok := decodeIterator(it.encode())
	if !ok || got != it {
		t.Fatalf("round trip = %+v, %v", got, ok)
	}
	for _, bad := range []string{"", "AAAA", "not base64!", it.encode()[:20]} {
		if _, ok := decodeIterator(bad); ok {
			t.Errorf("decodeIterator(%q) accepted", bad)
		}
	}
}
