// Package hashkey holds the 128-bit hash keys that Kinesis uses to route a
// record to a shard.
//
// Kinesis hashes a record's partition key with MD5 and reads the 16-byte
// digest as an unsigned big-endian 128-bit integer; an ExplicitHashKey, a
// decimal string, replaces that hash when the producer sets one. Every open
// shard owns an inclusive range of these integers. This package computes the
// hash of a partition key, parses and formats the decimal form, and compares
// keys, without math/big and without allocating.
package hashkey

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
)

// Uint128 is an unsigned 128-bit integer: Hi holds the upper 64 bits and Lo
// the lower 64. The zero value is 0.
type Uint128 struct {
	Hi, Lo uint64
}

// Max returns the largest hash key, 2^128-1: the end of the last shard's range.
func Max() Uint128 { return Uint128{Hi: math.MaxUint64, Lo: math.MaxUint64} }

// MaxDecimalLen is the length of the longest decimal hash key, the 39 digits
// of 2^128-1.
const MaxDecimalLen = 39

// Errors returned by Parse, unwrapped; compare with errors.Is.
var (
	// ErrSyntax means the string is not a canonical decimal number: it is
	// empty, holds a byte other than 0-9, or has a leading zero.
	ErrSyntax = errors.New("hashkey: not a decimal number without leading zeros")
	// ErrRange means the number is larger than 2^128-1.
	ErrRange = errors.New("hashkey: value out of range 0..2^128-1")
)

// keyBufLen bounds the partition keys hashed from a stack buffer. Kinesis
// partition keys are at most 256 code points, so at most 1024 UTF-8 bytes.
const keyBufLen = 1024

// Of returns the hash key of a partition key: the MD5 digest of its UTF-8
// bytes read as a big-endian 128-bit integer. It does not allocate for keys
// of up to 1024 bytes, which covers every key Kinesis accepts.
func Of(partitionKey string) Uint128 {
	if len(partitionKey) <= keyBufLen {
		var buf [keyBufLen]byte
		n := copy(buf[:], partitionKey)
		return FromDigest(md5.Sum(buf[:n]))
	}
	return FromDigest(md5.Sum([]byte(partitionKey)))
}

// OfBytes is Of for a key held in a byte slice.
func OfBytes(partitionKey []byte) Uint128 {
	return FromDigest(md5.Sum(partitionKey))
}

// FromDigest reads a 16-byte digest as a big-endian 128-bit integer.
func FromDigest(d [md5.Size]byte) Uint128 {
	return Uint128{Hi: binary.BigEndian.Uint64(d[:8]), Lo: binary.BigEndian.Uint64(d[8:])}
}

// Parse reads a hash key in the form Kinesis accepts for ExplicitHashKey and
// returns in HashKeyRange: the regular expression 0|[1-9][0-9]{0,38} with a
// value of at most 2^128-1. It returns ErrSyntax for any other string and
// ErrRange for a number larger than 2^128-1. It does not allocate.
func Parse(s string) (Uint128, error) {
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return Uint128{}, ErrSyntax
	}
	if len(s) > MaxDecimalLen {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return Uint128{}, ErrSyntax
			}
		}
		return Uint128{}, ErrRange
	}
	var u Uint128
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return Uint128{}, ErrSyntax
		}
		// u = u*10 + d, detecting overflow of the upper word.
		hi, lo := bits.Mul64(u.Lo, 10)
		hiHi, hiLo := bits.Mul64(u.Hi, 10)
		if hiHi != 0 {
			return Uint128{}, syntaxOrRange(s[i+1:])
		}
		var carry uint64
		hiLo, carry = bits.Add64(hiLo, hi, 0)
		if carry != 0 {
			return Uint128{}, syntaxOrRange(s[i+1:])
		}
		lo, carry = bits.Add64(lo, uint64(c-'0'), 0)
		hiLo, carry = bits.Add64(hiLo, 0, carry)
		if carry != 0 {
			return Uint128{}, syntaxOrRange(s[i+1:])
		}
		u = Uint128{Hi: hiLo, Lo: lo}
	}
	return u, nil
}

// syntaxOrRange reports ErrSyntax if the unread rest holds a non-digit, so
// that the error does not depend on where the overflow happened.
func syntaxOrRange(rest string) error {
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return ErrSyntax
		}
	}
	return ErrRange
}

// pow19 is 10^19, the largest power of ten below 2^64.
const pow19 = 10_000_000_000_000_000_000

// Append appends the decimal form of u, without leading zeros, to dst and
// returns the extended slice.
func (u Uint128) Append(dst []byte) []byte {
	if u.Hi == 0 {
		return appendUint64(dst, u.Lo, 0)
	}
	// Split u into three base-10^19 digits: top (< 35), mid and low.
	q, r := u.divPow19()
	if q.Hi == 0 && q.Lo < pow19 {
		dst = appendUint64(dst, q.Lo, 0)
		return appendUint64(dst, r, 19)
	}
	q2, r2 := q.divPow19()
	dst = appendUint64(dst, q2.Lo, 0)
	dst = appendUint64(dst, r2, 19)
	return appendUint64(dst, r, 19)
}

// divPow19 divides u by 10^19.
func (u Uint128) divPow19() (Uint128, uint64) {
	qHi := u.Hi / pow19
	rHi := u.Hi % pow19
	qLo, r := bits.Div64(rHi, u.Lo, pow19)
	return Uint128{Hi: qHi, Lo: qLo}, r
}

// appendUint64 appends v in decimal, left-padded with zeros to width digits.
func appendUint64(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v >= 10 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	buf[i] = byte('0' + v)
	for len(buf)-i < width {
		i--
		buf[i] = '0'
	}
	return append(dst, buf[i:]...)
}

// String returns the decimal form of u, as Kinesis writes hash keys.
func (u Uint128) String() string {
	var buf [MaxDecimalLen]byte
	return string(u.Append(buf[:0]))
}

// Cmp returns -1 if u < v, 0 if u == v and +1 if u > v.
func (u Uint128) Cmp(v Uint128) int {
	switch {
	case u.Hi < v.Hi:
		return -1
	case u.Hi > v.Hi:
		return 1
	case u.Lo < v.Lo:
		return -1
	case u.Lo > v.Lo:
		return 1
	}
	return 0
}

// Less reports whether u < v.
func (u Uint128) Less(v Uint128) bool {
	return u.Hi < v.Hi || (u.Hi == v.Hi && u.Lo < v.Lo)
}

// Next returns u+1. The boolean is false when u is Max(), whose successor does
// not exist; the returned value is then 0.
func (u Uint128) Next() (Uint128, bool) {
	lo, carry := bits.Add64(u.Lo, 1, 0)
	hi, over := bits.Add64(u.Hi, 0, carry)
	return Uint128{Hi: hi, Lo: lo}, over == 0
}

// ForRecord returns the hash key that routes a record: its explicit hash key
// when it is not empty, else the hash of its partition key. The error is
// that of Parse for a malformed explicit hash key.
func ForRecord(partitionKey, explicitHashKey string) (Uint128, error) {
	if explicitHashKey != "" {
		return Parse(explicitHashKey)
	}
	return Of(partitionKey), nil
}
