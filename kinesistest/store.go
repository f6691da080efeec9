package kinesistest

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Sequence numbers are 56 decimal digits, like the ones AWS hands out:
//
//	"49" | stream epoch (10 digits) | stream counter (34 digits) | shard index (10 digits)
//
// The counter is shared by all shards of a stream and grows by one per stored
// record, so sequence numbers strictly increase within a shard and, within one
// stream, also follow arrival order across shards. The shard index lets
// GetShardIterator refuse a sequence number of another shard, and the epoch
// (a per-server stream creation number) one of another stream, as AWS does.
const (
	seqLen       = 56
	seqEpochAt   = 2
	seqCounterAt = 12
	seqShardAt   = 46
)

func formatSeq(epoch, counter uint64, shardIdx int) string {
	var b [seqLen]byte
	for i := range b {
		b[i] = '0'
	}
	b[0], b[1] = '4', '9'
	putDigits(b[seqEpochAt:seqCounterAt], epoch)
	putDigits(b[seqCounterAt:seqShardAt], counter)
	putDigits(b[seqShardAt:], uint64(shardIdx))
	return string(b[:])
}

// putDigits writes v right-aligned into dst, which is already zero-filled.
func putDigits(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0 && v > 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

type seqParts struct {
	epoch, counter uint64
	shardIdx       int
}

// parseSeq decodes a sequence number made by formatSeq.
func parseSeq(s string) (seqParts, bool) {
	if len(s) != seqLen || s[0] != '4' || s[1] != '9' {
		return seqParts{}, false
	}
	epoch, err1 := strconv.ParseUint(s[seqEpochAt:seqCounterAt], 10, 64)
	counter, err2 := strconv.ParseUint(s[seqCounterAt:seqShardAt], 10, 64)
	idx, err3 := strconv.ParseUint(s[seqShardAt:], 10, 31)
	if err1 != nil || err2 != nil || err3 != nil {
		return seqParts{}, false
	}
	return seqParts{epoch: epoch, counter: counter, shardIdx: int(idx)}, true
}

// isSequenceNumberForm reports whether s matches AWS's SequenceNumber
// pattern 0|([1-9]\d{0,128}).
func isSequenceNumberForm(s string) bool {
	if s == "0" {
		return true
	}
	if len(s) < 1 || len(s) > 129 || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func shardName(idx int) string { return fmt.Sprintf("shardId-%012d", idx) }

// parseShardName reads the index of a shard id such as "shardId-000000000003".
// Like AWS it also accepts the bare number ("3") and any prefix before a dash.
func parseShardName(id string) (int, bool) {
	s := id
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '-' {
			s = s[i+1:]
			break
		}
	}
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// record is one stored record. Its data slice is owned by the server and
// never written after the record is stored.
type record struct {
	counter uint64
	arrival int64 // Unix nanoseconds, from the server's clock
	key     string
	ehk     string
	data    []byte
}

type shard struct {
	idx               int
	id                string
	start, end        u128
	parent, adjParent string
	startCounter      uint64
	endCounter        uint64
	closed            bool
	created, closedAt time.Time
	records           []record
	bucket            bucket
}

func (sh *shard) startSeq(epoch uint64) string { return formatSeq(epoch, sh.startCounter, sh.idx) }

func (sh *shard) endSeq(epoch uint64) string {
	if !sh.closed {
		return ""
	}
	return formatSeq(epoch, sh.endCounter, sh.idx)
}

// stream holds one stream's shards and records. mu guards every field below it.
type stream struct {
	name    string
	arn     string
	epoch   uint64
	created time.Time
	mode    string

	mu            sync.Mutex
	deleted       bool
	maxRecordSize int    // bytes, data plus partition key
	distribution  string // distUser or distAuto
	next          int    // with distAuto: the index into open of the next record's shard
	counter       uint64
	shards        []*shard // by index
	open          []*shard // open shards sorted by start hash key
}

func newStream(name, arn string, epoch uint64, created time.Time, shards int, maxRecordSize int, mode string) *stream {
	st := &stream{name: name, arn: arn, epoch: epoch, created: created, maxRecordSize: maxRecordSize, mode: mode, distribution: distUser}
	for i, r := range evenHashRanges(shards) {
		st.shards = append(st.shards, &shard{idx: i, id: shardName(i), start: r[0], end: r[1], created: created})
	}
	st.reindex()
	return st
}

// reindex rebuilds the sorted list of open shards. Callers hold st.mu (or own
// st exclusively).
func (st *stream) reindex() {
	st.open = st.open[:0]
	for _, sh := range st.shards {
		if !sh.closed {
			st.open = append(st.open, sh)
		}
	}
	sort.Slice(st.open, func(i, j int) bool { return st.open[i].start.cmp(st.open[j].start) < 0 })
}

// route returns the open shard whose range holds h. The open shards always
// cover the whole hash key space, so there is always one. Callers hold st.mu.
func (st *stream) route(h u128) *shard {
	i := sort.Search(len(st.open), func(i int) bool { return st.open[i].end.cmp(h) >= 0 })
	if i == len(st.open) {
		i = len(st.open) - 1
	}
	return st.open[i]
}

// place returns the open shard a record goes to: the one owning its hash
// key, or, when the service places records itself (distAuto), the next
// open shard in turn, whatever the record's keys. Callers hold st.mu.
func (st *stream) place(h u128) *shard {
	if st.distribution != distAuto {
		return st.route(h)
	}
	st.next %= len(st.open)
	sh := st.open[st.next]
	st.next++
	return sh
}

func (st *stream) shard(id string) *shard {
	idx, ok := parseShardName(id)
	if !ok || idx >= len(st.shards) {
		return nil
	}
	return st.shards[idx]
}

func (st *stream) openCount() int { return len(st.open) }
