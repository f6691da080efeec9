package inskinesis

import (
	"sync"
	"time"
)

// ledger counts what the stream holds, for backpressure, and what it has
// finished, for Flush. Put takes space in it and hands its record to the
// loop through the ledger's inbox, under one lock round; the loop takes the
// inbox, gives the space back once a record's outcome is known (settle),
// and a record is finished once its callback (if any) has run.
//
// Records are counted in epochs: Flush closes the current epoch and waits
// until every record of it and of earlier epochs is finished. With a spool,
// the records waiting on disk only are counted in the epoch of their Put
// too (disk).
//
// Put's admission (Stream.admit) and the loop's read-back from the spool
// (refill) take records in with mu held, since they decide with the spool
// where a record waits; everything else goes through the methods below.
type ledger[T any] struct {
	mu         sync.Mutex
	closed     bool
	records    int
	bytes      int64
	maxRecords int
	maxBytes   int64
	space      chan struct{} // closed when space frees up; nil while nobody waits

	epoch    uint64     // the epoch new records join
	base     uint64     // the epoch counted by pending[0]
	pending  []int64    // unfinished records per epoch, from base to epoch
	flushers []*flusher // waiting Flushes, by epoch, oldest first
	gone     int        // flushers whose every waiter gave up, not yet dropped

	inbox inbox[T] // records Put handed in, for the loop

	// The Flush epochs of the records waiting on disk only, in the order
	// they were written (the order the loop reads them back), run-length
	// coded.
	disk []epochRun
}

type epochRun struct {
	epoch uint64
	n     int
}

// flusher is the wait of every Flush for one epoch: Flushes that find no
// record put since the last one share it, so that repeated Flushes while a
// record is stuck cost nothing more.
type flusher struct {
	epoch   uint64
	done    chan struct{}
	waiters int // Flushes still waiting; 0: every one gave up
}

func newLedger[T any](maxRecords int, maxBytes int64, in inbox[T]) *ledger[T] {
	return &ledger[T]{maxRecords: maxRecords, maxBytes: maxBytes, pending: make([]int64, 1, 8), inbox: in}
}

// fits reports whether a record of size bytes may join. A record larger
// than the byte bound joins an empty stream, so that it cannot wait forever.
// Call with mu held.
func (l *ledger[T]) fits(size int) bool {
	return l.records < l.maxRecords && (l.bytes == 0 || l.bytes+int64(size) <= l.maxBytes)
}

// take counts a record in; it returns the record's epoch. Call with mu held
// and after fits.
func (l *ledger[T]) take(size int) uint64 {
	l.records++
	l.bytes += int64(size)
	l.pending[len(l.pending)-1]++
	return l.epoch
}

// waiting reports whether a Put waits for space. Call with mu held.
func (l *ledger[T]) waiting() bool { return l.space != nil }

// waitSpace returns a channel closed when space next frees up or the ledger
// closes. Call with mu held.
func (l *ledger[T]) waitSpace() <-chan struct{} {
	if l.space == nil {
		l.space = make(chan struct{})
	}
	return l.space
}

// release gives back the space of records that left the stream. Call with mu
// held.
func (l *ledger[T]) release(records int, bytes int64) {
	l.records -= records
	l.bytes -= bytes
	if l.space != nil && records > 0 {
		close(l.space)
		l.space = nil
	}
}

// finish counts n records of epoch e as finished. Call with mu held.
func (l *ledger[T]) finish(e uint64, n int) {
	l.pending[e-l.base] -= int64(n)
}

// settleFlushers drops finished epochs and wakes the flushers waiting for
// them. Call with mu held, after finish.
func (l *ledger[T]) settleFlushers() {
	n := 0
	for n < len(l.pending)-1 && l.pending[n] == 0 {
		n++
	}
	if n > 0 {
		l.pending = append(l.pending[:0], l.pending[n:]...)
		l.base += uint64(n)
	}
	// Flushers are in epoch order: stop at the first one still waiting.
	n = 0
	for n < len(l.flushers) && l.flushed(l.flushers[n].epoch) {
		f := l.flushers[n]
		if f.waiters == 0 {
			l.gone--
		}
		close(f.done)
		n++
	}
	if n > 0 {
		clear(l.flushers[:n])
		l.flushers = l.flushers[n:]
	}
}

// flushed reports whether every record of epoch e and earlier is finished.
// Call with mu held.
func (l *ledger[T]) flushed(e uint64) bool {
	return e < l.base || (e == l.base && l.pending[0] == 0)
}

// flush closes the current epoch and returns the flusher whose done channel
// is closed once it is finished, or nil if it already is. A caller that
// stops waiting calls cancelFlush.
func (l *ledger[T]) flush() *flusher {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.epoch
	if l.flushed(e) {
		return nil
	}
	if n := len(l.flushers); n > 0 && l.flushers[n-1].epoch == e-1 && l.pending[len(l.pending)-1] == 0 {
		// No record joined since the last Flush: wait with it.
		f := l.flushers[n-1]
		if f.waiters == 0 {
			l.gone--
		}
		f.waiters++
		return f
	}
	l.epoch++
	l.pending = append(l.pending, 0)
	f := &flusher{epoch: e, done: make(chan struct{}), waiters: 1}
	l.flushers = append(l.flushers, f)
	return f
}

// cancelFlush drops a Flush that stopped waiting for f. A flusher nobody
// waits for any more is dropped at once when it is the newest, and the
// others when they outnumber the waited-for ones, so that Flushes given up
// on cannot pile up while a record is stuck.
func (l *ledger[T]) cancelFlush(f *flusher) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-f.done: // already settled and dropped
		return
	default:
	}
	f.waiters--
	if f.waiters > 0 {
		return
	}
	l.gone++
	for n := len(l.flushers); n > 0 && l.flushers[n-1].waiters == 0; n-- {
		last := l.flushers[n-1]
		l.flushers[n-1] = nil
		l.flushers = l.flushers[:n-1]
		l.gone--
		// The epoch after it has no record yet: join the two again, so
		// that Flushes given up on do not pile up epochs either.
		if k := len(l.pending); k > 1 && last.epoch == l.epoch-1 && l.pending[k-1] == 0 {
			l.epoch--
			l.pending = l.pending[:k-1]
		}
	}
	if l.gone > 0 && 2*l.gone > len(l.flushers) {
		kept := l.flushers[:0]
		for _, f := range l.flushers {
			if f.waiters > 0 {
				kept = append(kept, f)
			}
		}
		clear(l.flushers[len(kept):])
		l.flushers = kept
		l.gone = 0
	}
}

// full reports whether no record of any size may join now, and whether
// records wait in the inbox, which the loop has not seen. It spares TryPut
// encoding a record it would refuse; admit checks again.
func (l *ledger[T]) full() (full, inboxed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records >= l.maxRecords || (l.bytes > 0 && l.bytes >= l.maxBytes), l.inbox.pending()
}

// close refuses further records and wakes everyone waiting for space. It
// reports whether it closed the ledger (false when already closed).
func (l *ledger[T]) close() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
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
func (l *ledger[T]) usage() (int, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records, l.bytes
}

// takeInbox returns the records Put handed in, oldest first, and when the
// first of them was, leaving spare as the empty inbox; and whether the
// ledger is closed and whether a Put waits for space.
func (l *ledger[T]) takeInbox(spare []*record[T]) (recs []*record[T], since time.Time, closed, putWaits bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recs, since = l.inbox.take(spare)
	return recs, since, l.closed, l.waiting()
}

// watchInbox takes when the loop will next look on its own and returns when
// it must look instead (see inbox.watch).
func (l *ledger[T]) watchInbox(at time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inbox.watch(at)
}

// settle gives back the space of n records that have their outcome, of
// bytes in all, and counts the records of finished as finished (those
// without a callback; a record with one finishes once its callback has
// run, see finished).
func (l *ledger[T]) settle(n int, finished []epochRun, bytes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.release(n, bytes)
	for _, run := range finished {
		l.finish(run.epoch, run.n)
	}
	l.settleFlushers()
}

// finished counts records whose callbacks have run as finished.
func (l *ledger[T]) finished(recs []*record[T]) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.finish(r.epoch, 1)
	}
	l.settleFlushers()
}

// replayed counts n records an earlier process left on disk as put in the
// current epoch. Call before the stream starts.
func (l *ledger[T]) replayed(n int) {
	l.pending[len(l.pending)-1] += int64(n)
	l.disk = addEpoch(l.disk, l.epoch, n)
}

// diskOnly counts a record that waits on disk only as put in the current
// epoch. Call with mu held.
func (l *ledger[T]) diskOnly() {
	l.pending[len(l.pending)-1]++
	l.disk = addEpoch(l.disk, l.epoch, 1)
}

// popDisk returns the epoch of the next record read back from disk. Call
// with mu held.
func (l *ledger[T]) popDisk() uint64 {
	if len(l.disk) == 0 {
		return 0 // cannot happen: every record on disk was counted
	}
	e := l.disk[0].epoch
	if l.disk[0].n--; l.disk[0].n == 0 {
		l.disk = l.disk[1:]
	}
	return e
}

// finishDisk counts the records still waiting on disk as finished: the
// stream stops and will not send them (they stay for the next stream on
// the spool).
func (l *ledger[T]) finishDisk() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, run := range l.disk {
		l.finish(run.epoch, run.n)
	}
	l.disk = nil
	l.settleFlushers()
}
