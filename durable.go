package inskinesis

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-pkg/inskinesis/internal/spool"
)

var (
	// ErrSpoolLocked is returned by NewKinesis when another stream, in this
	// process or another, uses Config.SpoolDir.
	ErrSpoolLocked = errors.New("inskinesis: spool directory in use")

	// ErrSpool is returned by Put and its variants when the record could
	// not be written to the spool (Config.SpoolDir), for example because
	// the disk is full; the OS error is wrapped too. The record is then not
	// in the stream, and nothing accepted before is lost. NewKinesis wraps
	// it when the spool cannot be opened.
	ErrSpool = errors.New("inskinesis: spool")

	// ErrSpoolNotSynced is returned by Put and its variants, with
	// Config.SpoolSync negative, when the spool could not be synced to
	// stable storage after the record was written. Unlike other errors of
	// Put, the record IS in the stream and will be delivered or reported
	// (a PutAsync callback still runs; PutSync waits for the outcome); it
	// would only not survive a crash of the machine. The OS error is
	// wrapped too.
	ErrSpoolNotSynced = errors.New("inskinesis: spool not synced")
)

// durable is a stream's spool (Config.SpoolDir): Put writes every record to
// it before it returns, the loop settles each record in it once its outcome
// is known, and records that do not fit in memory wait there until the loop
// reads them back. The loop also reads back, first, what an earlier process
// left unsettled.
type durable struct {
	sp       *spool.Spool
	syncEach bool // SpoolSync negative: each Put waits for a sync
	rec      spool.Recovery
	stop     chan struct{} // ends the periodic syncer
	synced   chan struct{} // closed when the periodic syncer has ended

	seqs      []uint64 // the loop's scratch for Settle
	closeOnce sync.Once
	lost      atomic.Int64 // records that could not be read back
}

// openDurable opens the spool of set and starts its periodic syncer.
func openDurable(set settings) (*durable, error) {
	sp, err := spool.Open(spool.Options{Dir: set.spoolDir, MaxBytes: set.spoolMaxBytes})
	if errors.Is(err, spool.ErrLocked) {
		return nil, fmt.Errorf("%w: %w", ErrSpoolLocked, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", ErrSpool, set.spoolDir, err)
	}
	d := &durable{sp: sp, syncEach: set.spoolSync < 0, rec: sp.Recovery(), stop: make(chan struct{}), synced: make(chan struct{})}
	if set.spoolSync > 0 {
		go d.syncEvery(set.spoolSync)
	} else {
		close(d.synced)
	}
	return d, nil
}

// syncEvery syncs the spool every interval until close.
func (d *durable) syncEvery(interval time.Duration) {
	defer close(d.synced)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = d.sp.Sync() // a failure shows again at the next, and at close
		case <-d.stop:
			return
		}
	}
}

// stopSyncer stops the periodic syncer and waits for it.
func (d *durable) stopSyncer() {
	close(d.stop)
	<-d.synced
}

// refill reads records back from disk while memory has room, and takes
// them in as Put would have; it reports whether it took any. A record read
// back carries its encoding only: its value is decoded if a report needs
// it.
func (l *loop[T]) refill(out *settlement[T]) bool {
	d := l.s.durable
	if d == nil || l.aborted {
		return false
	}
	s := l.s
	led := s.ledger
	got := l.refilled[:0]
	var lost []*spool.LostError
	var lostEpochs []epochRun // their Flush epochs, finished once they are reported
	led.mu.Lock()
	for led.records < led.maxRecords && led.bytes < led.maxBytes {
		r := s.newRecord()
		e, err := d.sp.Next(r.data[:0])
		var le *spool.LostError
		if errors.As(err, &le) {
			// Never silent: reported on Error() and to the unbuffered
			// hooks, counted as failed and in SpoolLost, logged; then they
			// no longer hold Flush.
			s.free(r)
			d.lost.Add(int64(le.Records))
			s.stats.failed.Add(int64(le.Records))
			for range le.Records {
				lostEpochs = addEpoch(lostEpochs, led.popDisk(), 1)
			}
			lost = append(lost, le)
			continue
		}
		if err != nil { // io.EOF: nothing waits, or the spool closed
			s.free(r)
			break
		}
		r.data, r.key, r.hashKey = e.Data, e.Key, e.HashKey
		r.size = recordSize(r.data, r.key)
		r.spoolSeq, r.spooled, r.encodedOnly = e.Seq, true, true
		r.maybeWritten = e.Replay // the process that wrote it may have sent it
		if e.Born != 0 {
			r.born = time.Unix(0, e.Born)
		}
		r.epoch = led.popDisk()
		led.records++
		led.bytes += int64(r.size)
		got = append(got, r)
	}
	led.mu.Unlock()
	for _, le := range lost {
		err := fmt.Errorf("%w: %d records could not be read back from disk and are lost: %w", ErrSpool, le.Records, le.Err)
		s.report(err)
		// Those appended by this process had their buffered event; those
		// an earlier one left had none.
		s.hooks.recordsLost(le.Appended, err)
		if s.hooks.log != nil {
			s.hooks.log.spoolLost(le)
		}
	}
	if len(lostEpochs) > 0 { // a Flush returns once they are reported, as for any failed record
		led.mu.Lock()
		for _, run := range lostEpochs {
			led.finish(run.epoch, run.n)
		}
		led.settleFlushers()
		led.mu.Unlock()
	}
	for _, r := range got {
		if r.maybeWritten && len(s.hooks.buffered) > 0 { // replayed (see above): Put took it in an earlier process
			s.hooks.recordBuffered(r.size)
		}
		l.accept(out, r, l.now)
	}
	n := len(got)
	clear(got)
	l.refilled = got[:0]
	return n > 0
}

// closeDurable closes the spool once nothing uses it any more: when the
// loop and the callbacks have ended (stopped), or, for a Close that gave
// up, as soon as the loop has stopped, since a callback it gave up on may
// run for long and the spool must be unlocked for a new stream. It runs
// once.
func (s *Stream[T]) closeDurable() {
	d := s.durable
	if d == nil {
		return
	}
	d.closeOnce.Do(func() {
		// What is still on disk stays for the next stream on the
		// directory. The records that waited on disk only count as
		// finished for Flush, since this stream will not send them.
		d.stopSyncer()
		s.ledger.finishDisk()
		if err := d.sp.Close(); err != nil && s.hooks.log != nil {
			s.hooks.log.spoolClose(err)
		}
	})
}

// backlog reports whether records wait on disk to be read back.
func (l *loop[T]) backlog() bool {
	return l.s.durable != nil && !l.aborted && l.s.durable.sp.Backlog()
}

// settleSpooled removes settled records from the spool.
func (l *loop[T]) settleSpooled(rs []*record[T]) {
	d := l.s.durable
	if d == nil {
		return
	}
	seqs := d.seqs[:0]
	for _, r := range rs {
		if r.spooled {
			seqs = append(seqs, r.spoolSeq)
		}
	}
	if len(seqs) > 0 {
		d.sp.Settle(seqs...)
	}
	d.seqs = seqs[:0]
}

// value returns r's value for a report. A record read back from the spool
// has only its encoding: it is decoded now, and reported as a RawRecord
// when it no longer decodes, with a copy of its bytes (r's go back to the
// pool, for the next Put to encode into).
func (s *Stream[T]) value(r *record[T]) (T, *RawRecord) {
	if !r.encodedOnly {
		return r.value, nil
	}
	v, err := decodeSafely(s.codec, r.data)
	if err != nil {
		return v, &RawRecord{PartitionKey: r.key, ExplicitHashKey: r.hashKey, Data: slices.Clone(r.data), Err: err}
	}
	return v, nil
}

func decodeSafely[T any](c Codec[T], data []byte) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decode panicked: %v", p)
		}
	}()
	return c.Decode(data)
}

// spoolStats fills the spool's part of st.
func (d *durable) stats(st *Stats) {
	sst := d.sp.Stats()
	st.SpoolRecords = sst.Records
	st.SpoolBytes = sst.Bytes
	st.Replayed = d.rec.Records
	st.SpoolCorrupt = d.rec.Corrupt
	st.SpoolSyncs = sst.Syncs
	st.SpoolLost = d.lost.Load()
}
