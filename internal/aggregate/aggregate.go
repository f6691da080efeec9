// Package aggregate builds KPL aggregated records: many user records packed
// into one Kinesis record, in the format of the Kinesis Producer Library:
//
//	| 0xF3 0x89 0x9A 0xC2 | AggregatedRecord protobuf | MD5 of the protobuf (16 bytes) |
//
// where the protobuf message is (proto2):
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4;
//	}
//
// The encoding is written by hand so that a Builder knows the exact size of
// the record it would build at every step, and adds records without
// allocating once its buffers have grown.
//
// Consumers (the KCL, and this module's aggregation package) drop a whole
// aggregate when one of its user records hashes outside the shard that
// received it, so a Builder must only be given records of one shard. The
// Builder does not check this: the caller groups records by shard.
package aggregate

import (
	"crypto/md5"
	"errors"
	"slices"

	"github.com/go-pkg/inskinesis/internal/hashkey"
)

// Magic is the 4-byte prefix of every aggregated record.
const Magic = "\xF3\x89\x9A\xC2"

// DigestLen is the length of the MD5 digest that ends an aggregated record.
const DigestLen = md5.Size

// Overhead is the number of bytes an aggregated record adds around its
// protobuf message: the magic prefix and the digest.
const Overhead = len(Magic) + DigestLen

// PartitionKey is the partition key an aggregate is sent with. As in the KPL,
// it is a single byte: the aggregate is routed by its ExplicitHashKey, and
// the user records inside carry their own keys. It counts in Size.
const PartitionKey = "a"

// Defaults and bounds of Limits.
const (
	// DefaultMaxBytes is the default bound on Size: KPL's
	// AggregationMaxSize, 51200 bytes.
	DefaultMaxBytes = 51200
	// DefaultMaxCount is the default bound on the number of user records in
	// one aggregate. The KPL allows 4294967295; 1000 keeps a lost aggregate,
	// and the work of one retry, bounded.
	DefaultMaxCount = 1000
	// MaxMaxBytes is the largest MaxBytes accepted: 10 MiB, the largest
	// record a Kinesis stream can be configured to take.
	MaxMaxBytes = 10 << 20
)

// Protobuf tags (field number << 3 | wire type) of the fields written.
const (
	tagPartitionKeyTable    = 1<<3 | 2
	tagExplicitHashKeyTable = 2<<3 | 2
	tagRecords              = 3<<3 | 2
	tagPartitionKeyIndex    = 1<<3 | 0
	tagExplicitHashKeyIndex = 2<<3 | 0
	tagData                 = 3<<3 | 2
)

// Limits bound what one Builder holds. A zero field takes its default.
type Limits struct {
	// MaxBytes bounds Size, the size of the aggregated record as Kinesis
	// counts it (data plus the one-byte partition key). Default
	// DefaultMaxBytes (51200); at most MaxMaxBytes.
	MaxBytes int
	// MaxCount bounds the number of user records. Default DefaultMaxCount
	// (1000).
	MaxCount int
}

// ErrLimits is returned by New for a negative limit or a MaxBytes above
// MaxMaxBytes.
var ErrLimits = errors.New("aggregate: invalid limits")

// Builder accumulates user records into one aggregated record. The zero
// value is not usable; call New. A Builder is not safe for concurrent use.
//
// A Builder keeps the partition key and explicit hash key strings it is
// given until Reset, and copies the data.
type Builder struct {
	maxBytes int
	maxCount int

	pkIndex map[string]uint64
	pkTable []string
	// The partition key looked up last and its index (lastPK is -1 when
	// none): records of one key in a row, the common case, cost a string
	// comparison instead of a map lookup.
	lastPKKey string
	lastPK    int
	ehkIndex  map[string]uint64
	ehkTable  []string
	// tablesLen is the encoded length of both key tables.
	tablesLen int
	// records holds the encoded "records" fields (tag, length, Record);
	// recordsLen is their length, which Reserve counts without writing
	// them (reserved then says so, and Build and Single refuse).
	records    []byte
	recordsLen int
	reserved   bool
	appended   bool // given records by Append: the key indexes are not kept
	count      int

	// The first record, which routes the aggregate and which the caller
	// sends raw when it is alone.
	firstEHK       string
	firstDataStart int
	firstDataEnd   int
}

// New returns an empty Builder bounded by l.
func New(l Limits) (*Builder, error) {
	if l.MaxBytes < 0 || l.MaxCount < 0 || l.MaxBytes > MaxMaxBytes {
		return nil, ErrLimits
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxCount == 0 {
		l.MaxCount = DefaultMaxCount
	}
	return &Builder{
		maxBytes: l.MaxBytes,
		maxCount: l.MaxCount,
		pkIndex:  make(map[string]uint64),
		ehkIndex: make(map[string]uint64),
		lastPK:   -1,
	}, nil
}

// Limits returns the limits in force, defaults filled in.
func (b *Builder) Limits() Limits {
	return Limits{MaxBytes: b.maxBytes, MaxCount: b.maxCount}
}

// Len returns the number of user records added since the last Reset.
func (b *Builder) Len() int { return b.count }

// EncodedLen returns the number of bytes Build appends: 0 for an empty
// Builder, else the magic prefix, the protobuf message and the digest.
func (b *Builder) EncodedLen() int {
	if b.count == 0 {
		return 0
	}
	return Overhead + b.tablesLen + b.recordsLen
}

// Size returns the size of the aggregated record as Kinesis counts it
// against its record and request limits: EncodedLen plus the length of
// PartitionKey. It is 0 for an empty Builder and never exceeds MaxBytes.
func (b *Builder) Size() int {
	if b.count == 0 {
		return 0
	}
	return b.EncodedLen() + len(PartitionKey)
}

// SizeWith returns what Size would be after adding a record with these keys
// and dataLen bytes of data, whether or not it fits.
func (b *Builder) SizeWith(partitionKey, explicitHashKey string, dataLen int) int {
	size := b.EncodedLen()
	if b.count == 0 {
		size = Overhead
	}
	return size + b.delta(partitionKey, explicitHashKey, dataLen) + len(PartitionKey)
}

// Fits reports whether a record with these keys and dataLen bytes of data
// can be added without breaking MaxBytes or MaxCount.
func (b *Builder) Fits(partitionKey, explicitHashKey string, dataLen int) bool {
	return b.count < b.maxCount && b.SizeWith(partitionKey, explicitHashKey, dataLen) <= b.maxBytes
}

// Add appends a user record and reports true, or reports false and leaves
// the Builder unchanged when the record would break MaxBytes or MaxCount.
// An empty explicitHashKey means the record has none. Add does not check
// the keys: the caller validates them as Kinesis would (partition key of 1
// to 256 code points, explicit hash key in decimal). Add copies data and
// keeps both strings until Reset. It does not allocate once the Builder's
// buffers have grown to their working size.
//
// Add returns false even on an empty Builder when the record alone is too
// large (see SoloSize): such a record can only be sent raw, and on a
// Builder given Reserve since its last Reset.
func (b *Builder) Add(partitionKey, explicitHashKey string, data []byte) bool {
	if b.reserved || b.appended || !b.Fits(partitionKey, explicitHashKey, len(data)) {
		return false
	}
	pkIdx, hasEHK, ehkIdx := b.index(partitionKey, explicitHashKey)
	b.write(pkIdx, hasEHK, ehkIdx, explicitHashKey, data)
	return true
}

// write appends the encoded Record of a user record whose keys are in the
// tables at these indexes.
func (b *Builder) write(pkIdx uint64, hasEHK bool, ehkIdx uint64, explicitHashKey string, data []byte) {
	inner := recordLen(pkIdx, hasEHK, ehkIdx, len(data))
	b.records = slices.Grow(b.records, 1+varintLen(uint64(inner))+inner)
	b.records = append(b.records, tagRecords)
	b.records = appendVarint(b.records, uint64(inner))
	b.records = append(b.records, tagPartitionKeyIndex)
	b.records = appendVarint(b.records, pkIdx)
	if hasEHK {
		b.records = append(b.records, tagExplicitHashKeyIndex)
		b.records = appendVarint(b.records, ehkIdx)
	}
	b.records = append(b.records, tagData)
	b.records = appendVarint(b.records, uint64(len(data)))
	if b.count == 0 {
		b.firstEHK = explicitHashKey
		b.firstDataStart = len(b.records)
		b.firstDataEnd = len(b.records) + len(data)
	}
	b.records = append(b.records, data...)
	b.recordsLen = len(b.records)
	b.count++
}

// Slot is where Reserve put a record's keys in the key tables.
type Slot struct {
	pk, ehk uint32 // indexes; ehk is 0 for a record without one
}

// Append adds a user record to a Builder that is given its records by
// Append alone since its last Reset, in the order another Builder was
// given them by Reserve, with the Slot Reserve returned for each: it looks
// no key up, and builds exactly the aggregate that Builder sized. It
// reports false, and leaves the Builder unchanged, when slot does not
// follow from the records appended so far (the order differs). It checks
// no limit: Reserve did.
func (b *Builder) Append(partitionKey, explicitHashKey string, slot Slot, data []byte) bool {
	if b.reserved || (b.count > 0 && !b.appended) {
		return false
	}
	newPK := int(slot.pk) == len(b.pkTable)
	if !newPK && (int(slot.pk) > len(b.pkTable) || b.pkTable[slot.pk] != partitionKey) {
		return false
	}
	hasEHK := explicitHashKey != ""
	newEHK := hasEHK && int(slot.ehk) == len(b.ehkTable)
	if hasEHK && !newEHK && (int(slot.ehk) > len(b.ehkTable) || b.ehkTable[slot.ehk] != explicitHashKey) {
		return false
	}
	if newPK {
		b.pkTable = append(b.pkTable, partitionKey)
		b.tablesLen += fieldLen(len(partitionKey))
	}
	if newEHK {
		b.ehkTable = append(b.ehkTable, explicitHashKey)
		b.tablesLen += fieldLen(len(explicitHashKey))
	}
	b.appended = true
	b.write(uint64(slot.pk), hasEHK, uint64(slot.ehk), explicitHashKey, data)
	return true
}

// Reserve counts a record of dataLen bytes as Add would, without its data:
// it reports true and grows Size exactly as Add would have, and returns
// where the record's keys are in the key tables (for Append), or reports
// false and leaves the Builder unchanged. A Builder given Reserve only
// sizes an aggregate: Build, Single and Add (until Reset) are for Builders
// given their records with Add. It lets one goroutine decide which records
// go together, at the cost of their keys alone, while another builds the
// aggregate from the same records, added in the same order, to the size
// reserved.
func (b *Builder) Reserve(partitionKey, explicitHashKey string, dataLen int) (Slot, bool) {
	if b.appended || !b.Fits(partitionKey, explicitHashKey, dataLen) {
		return Slot{}, false
	}
	pkIdx, hasEHK, ehkIdx := b.index(partitionKey, explicitHashKey)
	if b.count == 0 {
		b.firstEHK = explicitHashKey
	}
	b.recordsLen += fieldLen(recordLen(pkIdx, hasEHK, ehkIdx, dataLen))
	b.reserved = true
	b.count++
	return Slot{pk: uint32(pkIdx), ehk: uint32(ehkIdx)}, true
}

// index returns the indexes of a record's keys in the key tables, adding
// keys not in them yet.
func (b *Builder) index(partitionKey, explicitHashKey string) (pkIdx uint64, hasEHK bool, ehkIdx uint64) {
	pkIdx, ok := b.pkLookup(partitionKey)
	if !ok {
		pkIdx = uint64(len(b.pkTable))
		b.pkIndex[partitionKey] = pkIdx
		b.pkTable = append(b.pkTable, partitionKey)
		b.tablesLen += fieldLen(len(partitionKey))
		b.lastPKKey, b.lastPK = partitionKey, int(pkIdx)
	}
	hasEHK = explicitHashKey != ""
	if hasEHK {
		ehkIdx, ok = b.ehkIndex[explicitHashKey]
		if !ok {
			ehkIdx = uint64(len(b.ehkTable))
			b.ehkIndex[explicitHashKey] = ehkIdx
			b.ehkTable = append(b.ehkTable, explicitHashKey)
			b.tablesLen += fieldLen(len(explicitHashKey))
		}
	}
	return pkIdx, hasEHK, ehkIdx
}

// pkLookup returns the index of a partition key in the table.
func (b *Builder) pkLookup(key string) (uint64, bool) {
	if b.lastPK >= 0 && key == b.lastPKKey {
		return uint64(b.lastPK), true
	}
	idx, ok := b.pkIndex[key]
	if ok {
		b.lastPKKey, b.lastPK = key, int(idx)
	}
	return idx, ok
}

// delta is the growth of the protobuf message when a record is added.
func (b *Builder) delta(partitionKey, explicitHashKey string, dataLen int) int {
	n := 0
	pkIdx, ok := b.pkLookup(partitionKey)
	if !ok {
		pkIdx = uint64(len(b.pkTable))
		n += fieldLen(len(partitionKey))
	}
	var ehkIdx uint64
	hasEHK := explicitHashKey != ""
	if hasEHK {
		ehkIdx, ok = b.ehkIndex[explicitHashKey]
		if !ok {
			ehkIdx = uint64(len(b.ehkTable))
			n += fieldLen(len(explicitHashKey))
		}
	}
	return n + fieldLen(recordLen(pkIdx, hasEHK, ehkIdx, dataLen))
}

// SoloSize returns the size, as Size counts it, of an aggregated record that
// holds only this record. A record with SoloSize above MaxBytes never fits a
// Builder; a caller sends it raw, on its own.
func SoloSize(partitionKey, explicitHashKey string, dataLen int) int {
	n := Overhead + len(PartitionKey) + fieldLen(len(partitionKey))
	hasEHK := explicitHashKey != ""
	if hasEHK {
		n += fieldLen(len(explicitHashKey))
	}
	return n + fieldLen(recordLen(0, hasEHK, 0, dataLen))
}

// recordLen is the encoded length of one Record message.
func recordLen(pkIdx uint64, hasEHK bool, ehkIdx uint64, dataLen int) int {
	n := 1 + varintLen(pkIdx)
	if hasEHK {
		n += 1 + varintLen(ehkIdx)
	}
	return n + fieldLen(dataLen)
}

// fieldLen is the encoded length of a length-delimited field with a one-byte
// tag and n bytes of payload.
func fieldLen(n int) int {
	return 1 + varintLen(uint64(n)) + n
}

// Build appends the aggregated record (magic, protobuf message, MD5 digest)
// to dst and returns the extended slice; it appends EncodedLen bytes, and
// nothing for an empty Builder. It does not reset the Builder. It allocates
// only when dst lacks the capacity.
//
// It panics when the Builder was given Reserve since its last Reset: it
// holds no data to build from.
func (b *Builder) Build(dst []byte) []byte {
	dst = b.BuildUndigested(dst)
	if b.count == 0 {
		return dst
	}
	agg := dst[len(dst)-b.EncodedLen():]
	msg, digest := Parts(agg)
	sum := md5.Sum(msg)
	copy(digest, sum[:])
	return dst
}

// BuildUndigested is Build, but leaves the digest's DigestLen bytes zero,
// for the caller to fill with the MD5 of the message (see Parts): a caller
// with many aggregates can hash them together.
func (b *Builder) BuildUndigested(dst []byte) []byte {
	if b.reserved {
		panic("aggregate: Build of a Builder given Reserve")
	}
	if b.count == 0 {
		return dst
	}
	dst = slices.Grow(dst, b.EncodedLen())
	dst = append(dst, Magic...)
	for _, k := range b.pkTable {
		dst = append(dst, tagPartitionKeyTable)
		dst = appendVarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	for _, k := range b.ehkTable {
		dst = append(dst, tagExplicitHashKeyTable)
		dst = appendVarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	dst = append(dst, b.records...)
	var zero [DigestLen]byte
	return append(dst, zero[:]...)
}

// Parts splits an aggregated record that Build or BuildUndigested made
// into its protobuf message and its digest, which is the MD5 of the
// message. Both alias agg.
func Parts(agg []byte) (msg, digest []byte) {
	end := len(agg) - DigestLen
	return agg[len(Magic):end:end], agg[end:len(agg):len(agg)]
}

// Single returns the only user record when Len is 1, so that the caller can
// send it raw, with its own keys, as the KPL does. data aliases the Builder's
// buffer and is valid until the next Add or Reset. ok is false when Len is
// not 1, or when the Builder was given Reserve.
func (b *Builder) Single() (partitionKey, explicitHashKey string, data []byte, ok bool) {
	if b.count != 1 || b.reserved {
		return "", "", nil, false
	}
	return b.pkTable[0], b.firstEHK, b.records[b.firstDataStart:b.firstDataEnd:b.firstDataEnd], true
}

// ExplicitHashKey returns the ExplicitHashKey to send the aggregate with:
// that of the first user record, or, when it has none, the decimal MD5 hash
// of its partition key, as the KPL does. Kinesis then puts the aggregate on
// the shard of its first record. It returns "" for an empty Builder.
func (b *Builder) ExplicitHashKey() string {
	if b.count == 0 {
		return ""
	}
	if b.firstEHK != "" {
		return b.firstEHK
	}
	return hashkey.Of(b.pkTable[0]).String()
}

// AppendExplicitHashKey appends ExplicitHashKey to dst without allocating
// when dst has room for 39 more bytes.
func (b *Builder) AppendExplicitHashKey(dst []byte) []byte {
	if b.count == 0 {
		return dst
	}
	if b.firstEHK != "" {
		return append(dst, b.firstEHK...)
	}
	return hashkey.Of(b.pkTable[0]).Append(dst)
}

// Reset empties the Builder and keeps its buffers for reuse.
func (b *Builder) Reset() {
	clear(b.pkIndex)
	clear(b.ehkIndex)
	clear(b.pkTable) // drop references to the callers' strings
	clear(b.ehkTable)
	b.pkTable = b.pkTable[:0]
	b.ehkTable = b.ehkTable[:0]
	b.lastPKKey, b.lastPK = "", -1
	b.tablesLen = 0
	b.records = b.records[:0]
	b.recordsLen = 0
	b.reserved, b.appended = false, false
	b.count = 0
	b.firstEHK = ""
	b.firstDataStart, b.firstDataEnd = 0, 0
}

// varintLen is the length of v encoded as a protobuf varint.
func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// appendVarint appends v as a protobuf varint.
func appendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}
