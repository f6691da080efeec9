package inskinesis

import "sync"

// ledger counts what the stream holds, for backpressure, and what it has
// finished, for Flush. Put takes space in it, the loop gives the space back
// once a record's outcome is known, and a record is finished once its
// callback (if any) has run.
//
// Records are counted in epochs: Flush closes the current epoch and waits
// until every record of it and of earlier epochs is finished.
type ledger struct {
	mu         sync.Mutex
	closed     bool
	records    int
	bytes      int64
	maxRecords int
	maxBytes   int64
	space      chan struct{} // closed when space frees up; nil while nobody waits

	epoch    uint64  // the epoch new records join
	base     uint64  // the epoch counted by pending[0]
	pending  []int64 // unfinished records per epoch, from base to epoch
	flushers []flusher
}

type flusher struct {
	epoch uint64
	done  chan struct{}
}

func newLedger(maxRecords int, maxBytes int64) *ledger {
	return &ledger{maxRecords: maxRecords, maxBytes: maxBytes, pending: make([]int64, 1, 8)}
}

// fits reports whether a record of size bytes may join. A record larger
// than the byte bound joins an empty stream, so that it cannot wait forever.
// Call with mu held.
func (l *ledger) fits(size int) bool {
	return l.records < l.maxRecords && (l.bytes == 0 || l.bytes+int64(size) <= l.maxBytes)
}

// take counts a record in; it returns the record's epoch. Call with mu held
// and after fits.
func (l *ledger) take(size int) uint64 {
	l.records++
	l.bytes += int64(size)
	l.pending[len(l.pending)-1]++
	return l.epoch
}

// waitSpace returns a channel closed when space next frees up or the ledger
// closes. Call with mu held.
func (l *ledger) waitSpace() <-chan struct{} {
	if l.space == nil {
		l.space = make(chan struct{})
	}
	return l.space
}

// release gives back the space of records that left the stream. Call with mu
// held.
func (l *ledger) release(records int, bytes int64) {
	l.records -= records
	l.bytes -= bytes
	if l.space != nil && records > 0 {
		close(l.space)
		l.space = nil
	}
}

// finish counts one record of epoch e as finished. Call with mu held.
func (l *ledger) finish(e uint64) {
	l.pending[e-l.base]--
}

// settleFlushers drops finished epochs and wakes the flushers waiting for
// them. Call with mu held, after finish.
func (l *ledger) settleFlushers() {
	n := 0
	for n < len(l.pending)-1 && l.pending[n] == 0 {
		n++
	}
	if n > 0 {
		l.pending = append(l.pending[:0], l.pending[n:]...)
		l.base += uint64(n)
	}
	kept := l.flushers[:0]
	for _, f := range l.flushers {
		if l.flushed(f.epoch) {
			close(f.done)
		} else {
			kept = append(kept, f)
		}
	}
	clear(l.flushers[len(kept):])
	l.flushers = kept
}

// flushed reports whether every record of epoch e and earlier is finished.
// Call with mu held.
func (l *ledger) flushed(e uint64) bool {
	return e < l.base || (e == l.base && l.pending[0] == 0)
}

// flush closes the current epoch and returns a channel closed once it is
// finished, or nil if it already is.
func (l *ledger) flush() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.epoch
	if l.flushed(e) {
		return nil
	}
	l.epoch++
	l.pending = append(l.pending, 0)
	f := flusher{epoch: e, done: make(chan struct{})}
	l.flushers = append(l.flushers, f)
	return f.done
}

// close refuses further records and wakes everyone waiting for space. It
// reports whether it closed the ledger (false when already closed). Call with
// mu held.
func (l *ledger) close() bool {
	if l.closed {
		return false
	}
	l.closed = true
	if l.space != nil {
		close(l.space)
		l.space = nil
	}
	return true
}

// usage returns the records and bytes held.
func (l *ledger) usage() (int, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records, l.bytes
}
