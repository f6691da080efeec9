package putjson

import (
	"encoding/base64"
	"encoding/binary"
)

// pairs maps 12 bits to the two characters of the standard base64 alphabet
// that encode them, the first in the low byte: appendBase64 encodes 6 bytes
// with four lookups and one 8-byte store, where encoding/base64 makes eight
// lookups and eight 1-byte stores. It is filled once and only read.
var pairs = func() (t [1 << 12]uint16) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = uint16(alphabet[i>>6]) | uint16(alphabet[i&63])<<8
	}
	return t
}()

// encode6 returns the 8 characters that encode the top 48 bits of v, the
// first in the low byte.
func encode6(v uint64) uint64 {
	return uint64(pairs[v>>52]) | uint64(pairs[v>>40&0xfff])<<16 |
		uint64(pairs[v>>28&0xfff])<<32 | uint64(pairs[v>>16&0xfff])<<48
}

// appendBase64 appends src encoded as base64.StdEncoding does (standard
// alphabet, padded), about three times as fast: each 8-byte load yields 6
// bytes of input, so it stops 2 bytes short of the end, and
// encoding/base64 encodes the last few bytes.
func appendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	if cap(dst)-len(dst) < n {
		dst = append(dst, make([]byte, n)...)[:len(dst)]
	}
	out := dst[len(dst) : len(dst)+n]
	for len(src) >= 26 && len(out) >= 32 { // 24 bytes to 32 characters
		o := out[:32]
		binary.LittleEndian.PutUint64(o[0:8], encode6(binary.BigEndian.Uint64(src[0:8])))
		binary.LittleEndian.PutUint64(o[8:16], encode6(binary.BigEndian.Uint64(src[6:14])))
		binary.LittleEndian.PutUint64(o[16:24], encode6(binary.BigEndian.Uint64(src[12:20])))
		binary.LittleEndian.PutUint64(o[24:32], encode6(binary.BigEndian.Uint64(src[18:26])))
		src, out = src[24:], out[32:]
	}
	for len(src) >= 8 && len(out) >= 8 {
		binary.LittleEndian.PutUint64(out[:8], encode6(binary.BigEndian.Uint64(src[:8])))
		src, out = src[6:], out[8:]
	}
	base64.StdEncoding.Encode(out, src)
	return dst[:len(dst)+n]
}
