package kinesistest

import (
	"crypto/md5"
	"encoding/binary"
	"math/big"
	"math/bits"
)

// u128 is an unsigned 128-bit integer: the space of Kinesis hash keys.
type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

// add1 returns a+1 and whether it overflowed.
func (a u128) add1() (u128, bool) {
	lo, c := bits.Add64(a.lo, 1, 0)
	hi, c2 := bits.Add64(a.hi, 0, c)
	return u128{hi, lo}, c2 != 0
}

// sub1 returns a-1 (a must not be zero).
func (a u128) sub1() u128 {
	lo, b := bits.Sub64(a.lo, 1, 0)
	hi, _ := bits.Sub64(a.hi, 0, b)
	return u128{hi, lo}
}

func (a u128) big() *big.Int {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], a.hi)
	binary.BigEndian.PutUint64(buf[8:], a.lo)
	return new(big.Int).SetBytes(buf[:])
}

// String formats a in decimal, as Kinesis writes hash keys.
func (a u128) String() string { return a.big().String() }

// u128FromBig converts b, which must be in [0, 2^128-1].
func u128FromBig(b *big.Int) u128 {
	var buf [16]byte
	b.FillBytes(buf[:])
	return u128{binary.BigEndian.Uint64(buf[:8]), binary.BigEndian.Uint64(buf[8:])}
}

// parseDecimalU128 parses a string of decimal digits. It reports false when s
// is empty, holds a non-digit or is above 2^128-1.
func parseDecimalU128(s string) (u128, bool) {
	if s == "" {
		return u128{}, false
	}
	var v u128
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return u128{}, false
		}
		hh, hl := bits.Mul64(v.hi, 10)
		if hh != 0 {
			return u128{}, false
		}
		lh, ll := bits.Mul64(v.lo, 10)
		hi, carry := bits.Add64(hl, lh, 0)
		if carry != 0 {
			return u128{}, false
		}
		lo, c1 := bits.Add64(ll, uint64(c-'0'), 0)
		hi, c2 := bits.Add64(hi, 0, c1)
		if c2 != 0 {
			return u128{}, false
		}
		v = u128{hi, lo}
	}
	return v, true
}

// hashKeyOf returns the hash key Kinesis derives from a partition key: the
// MD5 digest of its UTF-8 bytes read as an unsigned 128-bit big-endian integer.
func hashKeyOf(partitionKey string) u128 {
	sum := md5.Sum([]byte(partitionKey))
	return u128{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// HashKey returns the hash key that Kinesis derives from partitionKey: the
// MD5 digest of its UTF-8 bytes read as an unsigned 128-bit big-endian
// integer. A record lands on the open shard whose hash key range holds this
// value, unless the record carries an ExplicitHashKey.
func HashKey(partitionKey string) *big.Int { return hashKeyOf(partitionKey).big() }

// isExplicitHashKeyForm reports whether s matches the pattern AWS applies to
// ExplicitHashKey, anchored at both ends: 0|([1-9]\d{0,38}).
func isExplicitHashKeyForm(s string) bool {
	if s == "0" {
		return true
	}
	if len(s) < 1 || len(s) > 39 || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// evenHashRanges splits the hash key space [0, 2^128-1] into n ranges the way
// CreateStream does. Shard i owns [i*w, (i+1)*w-1] with w = floor(2^128/n),
// and the last shard ends at 2^128-1, so it also takes the remainder. This is
// the split that AWS returns from ListShards (for example a 3-shard stream's
// first shard ends at 113427455640312821154458202477256070484, which is
// floor(2^128/3)-1) and the one kinesalite reproduces.
func evenHashRanges(n int) [][2]u128 {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	w := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([][2]u128, n)
	start := new(big.Int)
	for i := 0; i < n; i++ {
		end := new(big.Int).Add(start, w)
		if i == n-1 {
			end.Set(space)
		}
		end.Sub(end, big.NewInt(1))
		out[i] = [2]u128{u128FromBig(start), u128FromBig(end)}
		start = end.Add(end, big.NewInt(1))
	}
	return out
}
