package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A frame is the unit written to a segment or ack file:
//
//	| magic (4) | payload length (4, little endian) | CRC-32C of the payload (4) | payload |
//
// The magic lets a reader find the next frame after a corrupt one. A record
// frame's payload is
//
//	| seq (uvarint) | born (uvarint) | key length (uvarint) | key | hash key length (uvarint) | hash key | data |
//
// where born is when the record was put, in Unix nanoseconds (0: unknown),
//
// and an ack frame's payload is a list of record offsets within the segment
// (seq - first seq of the segment), each an uvarint.
const (
	frameMagic  = 0xB1A7F00D
	headerLen   = 12
	maxFrameLen = 16 << 20 // larger than any Kinesis record (10 MiB) plus its key
)

// FrameOverhead is the most bytes a record takes on disk beyond its key,
// hash key and data: the frame header and the largest uvarints.
const FrameOverhead = headerLen + 4*binary.MaxVarintLen64

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errCorrupt = errors.New("spool: corrupt frame")

// sealFrame fills in the header of the frame in buf, whose payload follows
// the header's room. The magic goes last: a process that dies while
// writing a frame into a mapping leaves zeros where the magic goes, which
// end the log (scan), so that nothing past it is read as frames.
func sealFrame(buf []byte) {
	payload := buf[headerLen:]
	binary.LittleEndian.PutUint32(buf[4:8], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[8:12], crc32.Checksum(payload, castagnoli))
	binary.LittleEndian.PutUint32(buf[0:4], frameMagic)
}

// appendRecord appends a whole record frame to dst.
func appendRecord(dst []byte, seq uint64, born int64, key, hashKey string, data []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, headerLen)...)
	dst = binary.AppendUvarint(dst, seq)
	dst = binary.AppendUvarint(dst, uint64(born))
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(hashKey)))
	dst = append(dst, hashKey...)
	dst = append(dst, data...)
	sealFrame(dst[start:])
	return dst
}

// parseRecord reads a record frame's payload. data aliases payload.
func parseRecord(payload []byte) (seq uint64, born int64, key, hashKey string, data []byte, err error) {
	p := payload
	seq, n := binary.Uvarint(p)
	if n <= 0 {
		return 0, 0, "", "", nil, errCorrupt
	}
	p = p[n:]
	b, n := binary.Uvarint(p)
	if n <= 0 {
		return 0, 0, "", "", nil, errCorrupt
	}
	p = p[n:]
	k, p, ok := lenPrefixed(p)
	if !ok {
		return 0, 0, "", "", nil, errCorrupt
	}
	h, p, ok := lenPrefixed(p)
	if !ok {
		return 0, 0, "", "", nil, errCorrupt
	}
	return seq, int64(b), string(k), string(h), p, nil
}

func lenPrefixed(p []byte) (field, rest []byte, ok bool) {
	l, n := binary.Uvarint(p)
	if n <= 0 || l > uint64(len(p)-n) {
		return nil, nil, false
	}
	p = p[n:]
	return p[:l], p[l:], true
}

// scan walks the frames of b, calling fn with each valid frame's offset
// and payload. A stretch of bytes between valid frames that holds none is
// passed to bad with its offset and length. The log ends where a frame's
// magic would be zero (the room reserved past the last frame, or a frame
// whose writer died before its magic), and where fn returns false for a
// frame (a frame left from an earlier use of a reused file): scan stops
// there, and a stretch of bad bytes before it belongs to the tail. scan
// returns where the valid frames end: len(b), or the offset of a tail that
// holds no valid frame (zeros, a frame cut short, garbage, or what an
// earlier use of the file left), which the caller truncates or reports.
func scan(b []byte, fn func(off int, payload []byte) bool, bad func(off, n int)) (end int) {
	off := 0
	for off < len(b) {
		if len(b)-off >= 4 && binary.LittleEndian.Uint32(b[off:]) == 0 {
			return off
		}
		if l, ok := frameAt(b, off); ok {
			if !fn(off, b[off+headerLen:off+headerLen+l]) {
				return off
			}
			off += headerLen + l
			continue
		}
		next := resync(b, off+1)
		if next < 0 {
			return off
		}
		l, _ := frameAt(b, next)
		if !fn(next, b[next+headerLen:next+headerLen+l]) {
			return off
		}
		bad(off, next-off)
		off = next + headerLen + l
	}
	return off
}

// frameAt reports whether a whole, valid frame starts at off, and its
// payload length.
func frameAt(b []byte, off int) (int, bool) {
	if len(b)-off < headerLen || binary.LittleEndian.Uint32(b[off:]) != frameMagic {
		return 0, false
	}
	l := int(binary.LittleEndian.Uint32(b[off+4:]))
	if l > maxFrameLen || l > len(b)-off-headerLen {
		return 0, false
	}
	payload := b[off+headerLen : off+headerLen+l]
	return l, crc32.Checksum(payload, castagnoli) == binary.LittleEndian.Uint32(b[off+8:])
}

// resync returns the offset of the next valid frame at or after from, or -1.
func resync(b []byte, from int) int {
	for i := from; i+headerLen <= len(b); i++ {
		if _, ok := frameAt(b, i); ok {
			return i
		}
	}
	return -1
}
