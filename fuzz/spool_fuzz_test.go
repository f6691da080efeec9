package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-pkg/inskinesis/internal/spool"
)

// spoolSeed writes a spool with records and settled marks and returns its
// two files, for the seed corpus.
func spoolSeed(f *testing.F) (log, ack []byte) {
	dir := f.TempDir()
	s, err := spool.Open(spool.Options{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	var seqs []uint64
	for _, k := range []string{"a", "bb", "ccc", "dddd"} {
		seq, _, err := s.Append(k, "123", []byte("data of "+k), false)
		if err != nil {
			f.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	s.Settle(seqs[1])
	// Closed first: a segment being written is reserved ahead (megabytes
	// of zeros), which Close gives back.
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	log, _ = os.ReadFile(filepath.Join(dir, "00000000000000000000.log"))
	ack, _ = os.ReadFile(filepath.Join(dir, "00000000000000000000.ack"))
	if len(log) == 0 || len(log) > 4096 {
		f.Fatalf("seed segment of %d bytes", len(log))
	}
	return log, ack
}

// FuzzSpoolOpen opens a spool directory holding hostile files. Open must
// succeed (corrupt bytes are skipped and counted, a torn tail truncated),
// hand back exactly the records it counted, and find the same records when
// opened again.
func FuzzSpoolOpen(f *testing.F) {
	log, ack := spoolSeed(f)
	f.Add(log, ack)
	f.Add(log[:len(log)-5], ack)
	f.Add(log, ack[:len(ack)-1])
	bad := append([]byte(nil), log...)
	bad[len(bad)/2] ^= 0x55
	f.Add(bad, []byte{})
	f.Add(append(append([]byte(nil), log...), log...), ack)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, log, ack []byte) {
		dir := t.TempDir()
		name := filepath.Join(dir, "00000000000000000000")
		if err := os.WriteFile(name+".log", log, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name+".ack", ack, 0o644); err != nil {
			t.Fatal(err)
		}
		checkReopen(t, dir)
	})
}

// FuzzSpoolOpenReused is FuzzSpoolOpen for a segment file that was reused:
// its name (first) is a later seq than the frames of its earlier use, which
// follow the new ones. Open must end the log at the first of those, and
// otherwise hold to FuzzSpoolOpen's rules.
func FuzzSpoolOpenReused(f *testing.F) {
	log, ack := spoolSeed(f)
	// The file reused from seq 2 on: the seed's frames from the middle on
	// first, then its whole earlier use (seqs 0 to 3); and the same with
	// the last new frame cut short.
	half := len(log) / 2
	half += bytes.Index(log[half:], log[:4]) // the next frame's magic
	f.Add(uint16(0), log, ack)
	f.Add(uint16(2), append(append([]byte(nil), log...), log...), []byte{})
	f.Add(uint16(2), append(append([]byte(nil), log[half:]...), log...), ack)
	f.Add(uint16(3), append(append([]byte(nil), log[half:len(log)-3]...), log...), ack)
	f.Fuzz(func(t *testing.T, first uint16, log, ack []byte) {
		dir := t.TempDir()
		name := filepath.Join(dir, fmt.Sprintf("%020d", first))
		if err := os.WriteFile(name+".log", log, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name+".ack", ack, 0o644); err != nil {
			t.Fatal(err)
		}
		checkReopen(t, dir)
	})
}

// checkReopen opens the spool in dir twice: Next must hand back exactly the
// records Open counted, all marked replayed, and the second open must find
// the same records and no torn bytes.
func checkReopen(t *testing.T, dir string) {
	read := func() (spool.Recovery, int) {
		s, err := spool.Open(spool.Options{Dir: dir})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer s.Close()
		n := 0
		for {
			e, err := s.Next(nil)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			if !e.Replay {
				t.Fatalf("record %d not marked replayed", e.Seq)
			}
			n++
		}
		return s.Recovery(), n
	}
	rec, n := read()
	if n != rec.Records {
		t.Fatalf("Open counted %d records, Next handed back %d", rec.Records, n)
	}
	rec2, n2 := read()
	if n2 != n || rec2.TornBytes != 0 {
		t.Fatalf("second open: %d records (first %d), %d torn bytes", n2, n, rec2.TornBytes)
	}
}
