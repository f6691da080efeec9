package spool

import "testing"

func BenchmarkAppend(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seq, _, err := s.Append("partition-key-0001", "", data, true)
		if err != nil {
			b.Fatal(err)
		}
		s.Settle(seq)
	}
}
