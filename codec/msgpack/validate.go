package msgpack

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxDepth bounds the nesting of arrays and maps, as encoding/json does.
const maxDepth = 10000

var (
	errEmpty     = errors.New("empty data")
	errTruncated = errors.New("malformed data: unexpected end of data")
	errTooDeep   = fmt.Errorf("malformed data: nesting deeper than %d", maxDepth)
)

// validate reports whether data is exactly one well-formed MessagePack
// value whose declared lengths all fit in data. It appends to prefixes, in
// increasing order, the offsets of extension data that starts with a map
// header or nil, and returns the extended slice.
//
// The library, when it expects a map, takes an extension header for a
// prefix to skip and reads a map from the extension's data (see
// Decoder.DecodeMapLen). Bytes read that way were checked here only as
// opaque extension data, so the decoder's reader refuses to read a code at
// those offsets (see guardReader).
func validate(data []byte, prefixes []int) ([]int, error) {
	if len(data) == 0 {
		return prefixes, errEmpty
	}
	v := validator{n: len(data), prefixes: prefixes}
	rest, err := v.skip(data, 0)
	prefixes = v.prefixes
	if err != nil {
		return prefixes, err
	}
	if len(rest) != 0 {
		return prefixes, fmt.Errorf("malformed data: %d trailing bytes after the value", len(rest))
	}
	return prefixes, nil
}

// validator walks one MessagePack value.
type validator struct {
	n        int   // length of the whole data, to turn slices into offsets
	prefixes []int // see validate
}

// skip checks the value at the start of b and returns what follows it.
func (v *validator) skip(b []byte, depth int) ([]byte, error) {
	if len(b) == 0 {
		return nil, errTruncated
	}
	c := b[0]
	b = b[1:]
	switch {
	case c <= 0x7f || c >= 0xe0: // positive and negative fixint
		return b, nil
	case c <= 0x8f: // fixmap
		return v.skipElems(b, 2*uint64(c&0x0f), depth)
	case c <= 0x9f: // fixarray
		return v.skipElems(b, uint64(c&0x0f), depth)
	case c <= 0xbf: // fixstr
		return skipBytes(b, uint64(c&0x1f))
	}
	switch c {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return b, nil
	case 0xcc, 0xd0: // uint8, int8
		return skipBytes(b, 1)
	case 0xcd, 0xd1: // uint16, int16
		return skipBytes(b, 2)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return skipBytes(b, 4)
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return skipBytes(b, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type, then data
		return v.skipExt(b, uint64(1)<<(c-0xd4))
	case 0xc4, 0xc5, 0xc6, 0xd9, 0xda, 0xdb: // bin 8/16/32, str 8/16/32
		n, b, err := length(b, c)
		if err != nil {
			return nil, err
		}
		return skipBytes(b, n)
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32: length, type, data
		n, b, err := length(b, c)
		if err != nil {
			return nil, err
		}
		return v.skipExt(b, n)
	case 0xdc, 0xdd: // array 16/32
		n, b, err := length(b, c)
		if err != nil {
			return nil, err
		}
		return v.skipElems(b, n, depth)
	case 0xde, 0xdf: // map 16/32
		n, b, err := length(b, c)
		if err != nil {
			return nil, err
		}
		return v.skipElems(b, 2*n, depth)
	}
	return nil, fmt.Errorf("malformed data: invalid code %#x", c) // 0xc1, never used
}

// length reads the big-endian length that follows code c: 1, 2 or 4 bytes
// for the 8, 16 and 32 variants, which come in that order in each family.
func length(b []byte, c byte) (uint64, []byte, error) {
	var size int
	switch c {
	case 0xc4, 0xc7, 0xd9:
		size = 1
	case 0xc5, 0xc8, 0xda, 0xdc, 0xde:
		size = 2
	default:
		size = 4
	}
	if len(b) < size {
		return 0, nil, errTruncated
	}
	switch size {
	case 1:
		return uint64(b[0]), b[1:], nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), b[2:], nil
	default:
		return uint64(binary.BigEndian.Uint32(b)), b[4:], nil
	}
}

// skipExt skips an extension's type byte and n bytes of data, noting the
// data's offset if it starts like a map (see validate).
func (v *validator) skipExt(b []byte, n uint64) ([]byte, error) {
	rest, err := skipBytes(b, 1+n)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		switch c := b[1]; {
		case c >= 0x80 && c <= 0x8f, c == 0xde, c == 0xdf, c == 0xc0:
			v.prefixes = append(v.prefixes, v.n-len(b)+1)
		}
	}
	return rest, nil
}

func skipBytes(b []byte, n uint64) ([]byte, error) {
	if uint64(len(b)) < n {
		return nil, fmt.Errorf("malformed data: %d bytes declared, %d left", n, len(b))
	}
	return b[n:], nil
}

// skipElems skips n values, each of which takes at least one byte.
func (v *validator) skipElems(b []byte, n uint64, depth int) ([]byte, error) {
	if uint64(len(b)) < n {
		return nil, fmt.Errorf("malformed data: %d elements declared, %d bytes left", n, len(b))
	}
	if n == 0 {
		return b, nil
	}
	if depth >= maxDepth {
		return nil, errTooDeep
	}
	var err error
	for range n {
		if b, err = v.skip(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}
