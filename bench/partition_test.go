package bench

import (
	"testing"

	"github.com/google/uuid"

	"github.com/go-pkg/inskinesis/partition"
)

var keySink string

// BenchmarkPartition measures the partitioners on one goroutine and in
// parallel: partition.UUID (the stream's default), partition.Static, and
// google/uuid's uuid.NewString for comparison. One op is one key.
func BenchmarkPartition(b *testing.B) {
	cases := []struct {
		name string
		key  func(int) string
	}{
		{"UUID", partition.UUID[int]()},
		{"Static", partition.Static[int]("key")},
		{"google-uuid.NewString", func(int) string { return uuid.NewString() }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			m := startMeter()
			var k string
			for i := range b.N {
				k = c.key(i)
			}
			b.StopTimer()
			keySink = k
			if k == "" {
				b.Fatal("empty key")
			}
			m.report(b, b.N)
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			m := startMeter()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if c.key(i) == "" {
						b.Error("empty key")
						return
					}
				}
			})
			b.StopTimer()
			m.report(b, b.N)
		})
	}
}
