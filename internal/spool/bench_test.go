package spool

import "testing"

// BenchmarkAppend appends 100-byte records and settles them 500 at a time,
// as the stream does once per answered call.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 100)
	seqs := make([]uint64, 0, 500)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seq, _, err := s.Append("partition-key-0001", "", data, true)
		if err != nil {
			b.Fatal(err)
		}
		if seqs = append(seqs, seq); len(seqs) == cap(seqs) {
			s.Settle(seqs...)
			seqs = seqs[:0]
		}
	}
}
