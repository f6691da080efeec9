package fuzz

import (
	"errors"
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
	})
}
