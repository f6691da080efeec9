package partition_test

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/go-pkg/inskinesis/partition"
)

type event struct {
	Tenant string
	User   string
	ID     []byte
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDFormat(t *testing.T) {
	p := partition.UUID[event]()
	for range 10_000 {
		k := p(event{})
		if !uuidV4.MatchString(k) {
			t.Fatalf("key %q is not a canonical version 4 UUID", k)
		}
		u, err := uuid.Parse(k)
		if err != nil {
			t.Fatalf("uuid.Parse(%q): %v", k, err)
		}
		if u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("key %q has version %d, variant %v", k, u.Version(), u.Variant())
		}
	}
}

func TestUUIDUnique(t *testing.T) {
	p := partition.UUID[int]()
	seen := make(map[string]struct{}, 100_000)
	for i := range 100_000 {
		k := p(i)
		if _, dup := seen[k]; dup {
			t.Fatalf("key %q repeated after %d keys", k, i)
		}
		seen[k] = struct{}{}
	}
}

func TestUUIDBitsVary(t *testing.T) {
	// Every one of the 122 random bits must take both values over many
	// keys; a bit stuck at 0 or 1 would show a formatting or masking bug.
	p := partition.UUID[int]()
	var ones, zeros [16]byte
	for i := range 1000 {
		u := uuid.MustParse(p(i))
		for j, b := range u {
			ones[j] |= b
			zeros[j] |= ^b
		}
	}
	for j := range 16 {
		wantOnes, wantZeros := byte(0xff), byte(0xff)
		switch j {
		case 6: // version nibble is 0100
			wantOnes, wantZeros = 0x4f, 0xbf
		case 8: // variant bits are 10
			wantOnes, wantZeros = 0xbf, 0x7f
		}
		if ones[j] != wantOnes || zeros[j] != wantZeros {
			t.Errorf("byte %d: bits seen set %08b, clear %08b; want %08b, %08b", j, ones[j], zeros[j], wantOnes, wantZeros)
		}
	}
}

func TestUUIDConcurrent(t *testing.T) {
	p := partition.UUID[event]() // one partitioner shared by all goroutines
	const goroutines, each = 8, 5000
	keys := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				keys[g] = append(keys[g], p(event{}))
			}
		}()
	}
	wg.Wait()
	seen := make(map[string]struct{}, goroutines*each)
	for _, ks := range keys {
		for _, k := range ks {
			if !uuidV4.MatchString(k) {
				t.Fatalf("key %q is not a canonical version 4 UUID", k)
			}
			if _, dup := seen[k]; dup {
				t.Fatalf("key %q repeated across goroutines", k)
			}
			seen[k] = struct{}{}
		}
	}
}

func TestUUIDAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	p := partition.UUID[event]()
	var k string
	allocs := testing.AllocsPerRun(1000, func() { k = p(event{}) })
	if allocs != 1 {
		t.Fatalf("UUID allocated %v times per key, want 1 (the string)", allocs)
	}
	_ = k
}

func TestStatic(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		{"ascii key", "orders"},
		{"unicode key", "commandes-été-🚀"},
		{"empty key is returned as given", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := partition.Static[event](tt.key)
			for _, e := range []event{{}, {Tenant: "a"}, {User: "b"}} {
				if got := p(e); got != tt.key {
					t.Fatalf("Static(%q)(%v) = %q", tt.key, e, got)
				}
			}
		})
	}
}

type userID int

func (u userID) String() string { return "user-" + strconv.Itoa(int(u)) }

func TestStringer(t *testing.T) {
	p := partition.Stringer[userID]()
	tests := []struct {
		in   userID
		want string
	}{
		{0, "user-0"},
		{42, "user-42"},
		{-1, "user--1"},
	}
	for _, tt := range tests {
		if got := p(tt.in); got != tt.want {
			t.Errorf("Stringer()(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func fnvHex(b []byte) string {
	h := fnv.New64a()
	h.Write(b)
	return fmt.Sprintf("%016x", h.Sum64())
}

func TestHash(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty input still gives a valid key", nil},
		{"short id", []byte("a")},
		{"binary id with invalid UTF-8", []byte{0xff, 0x00, 0xfe}},
		{"id far longer than 256 code points", []byte(strings.Repeat("x", 10_000))},
	}
	byBytes := partition.Hash(func(e event) []byte { return e.ID })
	byString := partition.Hash(func(e event) string { return string(e.ID) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := fnvHex(tt.in)
			if got := byBytes(event{ID: tt.in}); got != want {
				t.Errorf("Hash over []byte = %q, want %q", got, want)
			}
			if got := byString(event{ID: tt.in}); got != want {
				t.Errorf("Hash over string = %q, want %q", got, want)
			}
			if len(want) != 16 || !utf8.ValidString(want) {
				t.Errorf("key %q is not 16 hex digits", want)
			}
		})
	}
	// Known FNV-1a 64 values, fixed forever: keys must not change between
	// versions, or records of one entity would move shards.
	if got := byString(event{}); got != "cbf29ce484222325" {
		t.Errorf("Hash of empty input = %q, want cbf29ce484222325", got)
	}
	if got := byString(event{ID: []byte("a")}); got != "af63dc4c8601ec8c" {
		t.Errorf(`Hash of "a" = %q, want af63dc4c8601ec8c`, got)
	}
}

func TestSpread(t *testing.T) {
	const buckets = 8
	p := partition.Spread(func(e event) string { return e.Tenant }, buckets)
	seen := make(map[string]int)
	for range 10_000 {
		k := p(event{Tenant: "hot"})
		n, ok := strings.CutPrefix(k, "hot-")
		if !ok {
			t.Fatalf("key %q lacks the hot- prefix", k)
		}
		b, err := strconv.Atoi(n)
		if err != nil || b < 0 || b >= buckets {
			t.Fatalf("key %q has bucket %q, want 0..%d", k, n, buckets-1)
		}
		seen[k]++
	}
	// With 10000 draws over 8 buckets, a bucket left empty has probability
	// below 1e-500: every bucket must be used.
	if len(seen) != buckets {
		t.Fatalf("used %d distinct keys %v, want %d", len(seen), seen, buckets)
	}
}

func TestSpreadBy(t *testing.T) {
	const buckets = 8
	p := partition.SpreadBy(
		func(e event) string { return e.Tenant },
		func(e event) string { return e.User },
		buckets,
	)
	seen := make(map[string]bool)
	for i := range 1000 {
		user := "user-" + strconv.Itoa(i)
		h := fnv.New64a()
		h.Write([]byte(user))
		want := "t-" + strconv.FormatUint(h.Sum64()%buckets, 10)
		got := p(event{Tenant: "t", User: user})
		if got != want {
			t.Fatalf("key for %s = %q, want %q", user, got, want)
		}
		if again := p(event{Tenant: "t", User: user}); again != got {
			t.Fatalf("key for %s changed from %q to %q", user, got, again)
		}
		seen[got] = true
	}
	if len(seen) != buckets {
		t.Fatalf("1000 users used %d buckets, want %d", len(seen), buckets)
	}
}

func TestSpreadFewBucketsKeepsKey(t *testing.T) {
	key := func(e event) string { return e.Tenant }
	by := func(e event) string { return e.User }
	for _, buckets := range []int{-3, 0, 1} {
		if got := partition.Spread(key, buckets)(event{Tenant: "t"}); got != "t" {
			t.Errorf("Spread with %d buckets gave %q, want the key unchanged", buckets, got)
		}
		if got := partition.SpreadBy(key, by, buckets)(event{Tenant: "t", User: "u"}); got != "t" {
			t.Errorf("SpreadBy with %d buckets gave %q, want the key unchanged", buckets, got)
		}
	}
}

func TestPartitionersConcurrent(t *testing.T) {
	ps := map[string]func(event) string{
		"Static":   partition.Static[event]("k"),
		"Hash":     partition.Hash(func(e event) []byte { return e.ID }),
		"Spread":   partition.Spread(func(e event) string { return e.Tenant }, 4),
		"SpreadBy": partition.SpreadBy(func(e event) string { return e.Tenant }, func(e event) string { return e.User }, 4),
	}
	for name, p := range ps {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var buf [8]byte
					for i := range 1000 {
						binary.BigEndian.PutUint64(buf[:], uint64(g*1000+i))
						if k := p(event{Tenant: "t", User: "u", ID: buf[:]}); k == "" {
							t.Errorf("empty key")
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

var sink string

func BenchmarkPartitioner(b *testing.B) {
	b.Run("UUID", func(b *testing.B) {
		p := partition.UUID[event]()
		b.ReportAllocs()
		for b.Loop() {
			sink = p(event{})
		}
	})
	b.Run("Static", func(b *testing.B) {
		p := partition.Static[event]("k")
		b.ReportAllocs()
		for b.Loop() {
			sink = p(event{})
		}
	})
	b.Run("google-uuid-NewString", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = uuid.NewString()
		}
	})
	b.Run("Hash", func(b *testing.B) {
		p := partition.Hash(func(e event) string { return e.User })
		e := event{User: "user-1234567890"}
		b.ReportAllocs()
		for b.Loop() {
			sink = p(e)
		}
	})
	b.Run("UUID-parallel", func(b *testing.B) {
		p := partition.UUID[event]()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s string
			for pb.Next() {
				s = p(event{})
			}
			_ = s
		})
	})
	b.Run("google-uuid-NewString-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s string
			for pb.Next() {
				s = uuid.NewString()
			}
			_ = s
		})
	})
}
