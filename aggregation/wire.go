package aggregation

// A minimal reader of the protobuf wire format, enough to parse the
// AggregatedRecord message with the rules of google.golang.org/protobuf: a
// known field number with an unexpected wire type is an unknown field,
// unknown fields (groups included) are skipped, the last occurrence of a
// singular field wins, and required fields must be present.

const (
	wireVarint     = 0
	wireFixed64    = 1
	wireBytes      = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireFixed32    = 5

	// maxFieldNumber is the largest valid protobuf field number, 2^29-1.
	maxFieldNumber = 1<<29 - 1
	// maxGroupDepth bounds the nesting of unknown groups, as protowire's
	// DefaultRecursionLimit does.
	maxGroupDepth = 10000
)

// consumeVarint reads a varint of at most 10 bytes. n is -1 when b is
// truncated or the varint overflows 64 bits.
func consumeVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// consumeTag reads a field tag. n is -1 for a malformed tag or a field
// number below 1 or, when top is true (a message's own fields rather than
// those inside a group), above 2^29-1.
func consumeTag(b []byte, top bool) (num uint64, typ int, n int) {
	v, n := consumeVarint(b)
	if n < 0 {
		return 0, 0, -1
	}
	num = v >> 3
	if num < 1 || num > 1<<31-1 || (top && num > maxFieldNumber) {
		return 0, 0, -1
	}
	return num, int(v & 7), n
}

// consumeBytes reads a length-delimited value and returns it; n is -1 when
// b is truncated.
func consumeBytes(b []byte) (v []byte, n int) {
	l, n := consumeVarint(b)
	if n < 0 || l > uint64(len(b)-n) {
		return nil, -1
	}
	end := n + int(l)
	return b[n:end:end], end
}

// skipValue skips the value of an unknown field of wire type typ; n is -1
// when the value is malformed.
func skipValue(num uint64, typ int, b []byte, depth int) int {
	switch typ {
	case wireVarint:
		_, n := consumeVarint(b)
		return n
	case wireFixed64:
		if len(b) < 8 {
			return -1
		}
		return 8
	case wireFixed32:
		if len(b) < 4 {
			return -1
		}
		return 4
	case wireBytes:
		_, n := consumeBytes(b)
		return n
	case wireStartGroup:
		if depth < 0 {
			return -1
		}
		total := 0
		for {
			num2, typ2, n := consumeTag(b[total:], false)
			if n < 0 {
				return -1
			}
			total += n
			if typ2 == wireEndGroup {
				if num2 != num {
					return -1
				}
				return total
			}
			n = skipValue(num2, typ2, b[total:], depth-1)
			if n < 0 {
				return -1
			}
			total += n
		}
	}
	return -1 // an end group without its start, or a reserved wire type
}

// field is one field of a message: its number and wire type, and its value
// for the two wire types the format uses (v for a varint, payload for a
// length-delimited value).
type field struct {
	num     uint64
	typ     int
	v       uint64
	payload []byte
}

// nextField reads the first field of msg, skipping the value of any other
// wire type, and returns it with the number of bytes read; n is -1 when msg
// is malformed.
func nextField(msg []byte) (f field, n int) {
	num, typ, n := consumeTag(msg, true)
	if n < 0 {
		return field{}, -1
	}
	f = field{num: num, typ: typ}
	var m int
	switch typ {
	case wireVarint:
		f.v, m = consumeVarint(msg[n:])
	case wireBytes:
		f.payload, m = consumeBytes(msg[n:])
	default:
		m = skipValue(num, typ, msg[n:], maxGroupDepth)
	}
	if m < 0 {
		return field{}, -1
	}
	return f, n + m
}
