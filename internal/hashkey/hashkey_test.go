package hashkey

import (
	"crypto/md5"
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func toBig(u Uint128) *big.Int {
	b := new(big.Int).SetUint64(u.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(u.Lo))
}

func TestOfMatchesMD5BigEndian(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		{"a single byte", "a"},
		{"an empty key", ""},
		{"a multi-byte unicode key", "ключ-🔑"},
		{"a key of 256 four-byte code points, the longest Kinesis accepts", strings.Repeat("🔑", 256)},
		{"a key longer than the stack buffer", strings.Repeat("x", 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := md5.Sum([]byte(tt.key))
			want := new(big.Int).SetBytes(d[:])
			got := Of(tt.key)
			if toBig(got).Cmp(want) != 0 {
				t.Fatalf("Of(%q) = %s, want %s", tt.key, toBig(got), want)
			}
			if OfBytes([]byte(tt.key)) != got {
				t.Fatalf("OfBytes differs from Of")
			}
			if got.String() != want.String() {
				t.Fatalf("String() = %s, want %s", got.String(), want.String())
			}
		})
	}
}

func TestKnownPartitionKeyHash(t *testing.T) {
	// MD5("a") = 0cc175b9c0f1b6a831c399e269772661.
	want, _ := new(big.Int).SetString("0cc175b9c0f1b6a831c399e269772661", 16)
	if got := Of("a").String(); got != want.String() {
		t.Fatalf("Of(\"a\") = %s, want %s", got, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Uint128
		err  error
	}{
		{"zero", "0", Uint128{}, nil},
		{"one", "1", Uint128{Lo: 1}, nil},
		{"2^64-1", "18446744073709551615", Uint128{Lo: ^uint64(0)}, nil},
		{"2^64", "18446744073709551616", Uint128{Hi: 1}, nil},
		{"2^128-1", "340282366920938463463374607431768211455", Max(), nil},
		{"2^128 is out of range", "340282366920938463463374607431768211456", Uint128{}, ErrRange},
		{"a 39-digit number above 2^128", "999999999999999999999999999999999999999", Uint128{}, ErrRange},
		{"40 digits", "1000000000000000000000000000000000000000", Uint128{}, ErrRange},
		{"40 digits with a letter at the end", "100000000000000000000000000000000000000x", Uint128{}, ErrSyntax},
		{"overflow then a letter", "99999999999999999999999999999999999999x", Uint128{}, ErrSyntax},
		{"empty", "", Uint128{}, ErrSyntax},
		{"leading zero", "01", Uint128{}, ErrSyntax},
		{"double zero", "00", Uint128{}, ErrSyntax},
		{"sign", "-1", Uint128{}, ErrSyntax},
		{"plus sign", "+1", Uint128{}, ErrSyntax},
		{"space", " 1", Uint128{}, ErrSyntax},
		{"hex", "0x10", Uint128{}, ErrSyntax},
		{"unicode digit", "١", Uint128{}, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatAndParseRoundTripAgainstBig(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []Uint128{{}, {Lo: 1}, {Lo: 9}, {Lo: 10}, {Lo: pow19 - 1}, {Lo: pow19}, {Hi: 1}, Max(),
		{Hi: 0x5, Lo: 0x6BC75E2D63100000},                // 10^20
		{Hi: 0x4B3B4CA85A86C47A, Lo: 0x098A224000000000}, // 10^38
		{Hi: 0x4B3B4CA85A86C47A, Lo: 0x098A223FFFFFFFFF}, // 10^38-1
	}
	for range 2000 {
		values = append(values, Uint128{Hi: r.Uint64() >> r.UintN(64), Lo: r.Uint64()})
	}
	for _, v := range values {
		want := toBig(v).String()
		if got := v.String(); got != want {
			t.Fatalf("String(%+v) = %s, want %s", v, got, want)
		}
		back, err := Parse(want)
		if err != nil || back != v {
			t.Fatalf("Parse(%s) = %+v, %v; want %+v", want, back, err, v)
		}
	}
}

func TestCmpLessNext(t *testing.T) {
	tests := []struct {
		name string
		a, b Uint128
		cmp  int
	}{
		{"equal", Uint128{1, 2}, Uint128{1, 2}, 0},
		{"lower word decides", Uint128{1, 2}, Uint128{1, 3}, -1},
		{"upper word decides", Uint128{2, 0}, Uint128{1, ^uint64(0)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Cmp(tt.b); got != tt.cmp {
				t.Fatalf("Cmp = %d, want %d", got, tt.cmp)
			}
			if got := tt.a.Less(tt.b); got != (tt.cmp < 0) {
				t.Fatalf("Less = %v", got)
			}
		})
	}
	if n, ok := (Uint128{Lo: ^uint64(0)}).Next(); !ok || n != (Uint128{Hi: 1}) {
		t.Fatalf("Next carries wrongly: %+v %v", n, ok)
	}
	if n, ok := Max().Next(); ok || n != (Uint128{}) {
		t.Fatalf("Max().Next() = %+v, %v; want 0, false", n, ok)
	}
}

func TestNoAllocations(t *testing.T) {
	key := strings.Repeat("k", 256)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		h := Of(key)
		buf = h.Append(buf[:0])
		if _, err := Parse("340282366920938463463374607431768211455"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Of+Append+Parse allocate %v times, want 0", allocs)
	}
}

func BenchmarkOf(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Of("user-1234567890")
	}
}

func BenchmarkAppend(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = Max().Append(buf[:0])
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Parse("340282366920938463463374607431768211455")
	}
}

func TestForRecord(t *testing.T) {
	tests := []struct {
		name, pk, ehk string
		want          Uint128
		err           error
	}{
		{"the partition key's hash without explicit hash key", "a", "", Of("a"), nil},
		{"the explicit hash key wins", "a", "5", Uint128{Lo: 5}, nil},
		{"a malformed explicit hash key", "a", "05", Uint128{}, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ForRecord(tt.pk, tt.ehk)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) || got != tt.want {
				t.Fatalf("ForRecord = %+v, %v; want %+v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}
