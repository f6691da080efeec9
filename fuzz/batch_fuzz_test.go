package fuzz

import (
	"encoding/binary"
	"testing"

	"github.com/go-pkg/inskinesis/internal/batch"
)

// batchSizes reads entry sizes from data, two bytes each, little-endian.
func batchSizes(data []byte) []int {
	sizes := make([]int, len(data)/2)
	for i := range sizes {
		sizes[i] = int(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return sizes
}

// batchLimits maps fuzzed numbers onto valid limits: MaxRecords 1..600
// (beyond Kinesis' 500, to test the rule rather than the constant) and
// MaxBytes 1..2^20.
func batchLimits(maxRecords uint16, maxBytes uint32) batch.Limits {
	return batch.Limits{MaxRecords: int(maxRecords)%600 + 1, MaxBytes: int(maxBytes)%(1<<20) + 1}
}

// FuzzBatchSplit checks batch.Split, batch.Next and batch.Acc on random
// sizes and limits: every entry comes out exactly once and in order, in
// non-empty requests of at most MaxRecords entries; a request is over
// MaxBytes only when it is a single entry, and an entry over MaxBytes
// always travels alone; each request is as long as the greedy rule allows
// (the next entry would not have fit); Next gives the first request's
// length; and an Acc fed a request reports its length and bytes. The seeds
// are in testdata/fuzz/FuzzBatchSplit.
func FuzzBatchSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, maxRecords uint16, maxBytes uint32) {
		sizes := batchSizes(data)
		lim := batchLimits(maxRecords, maxBytes)
		idx := make([]int, len(sizes)) // entries are indexes into sizes
		for i := range idx {
			idx[i] = i
		}
		size := func(i int) int { return sizes[i] }
		next := 0
		first := true
		batch.Split(idx, size, lim, func(req []int) {
			if len(req) == 0 {
				t.Fatalf("empty request at entry %d", next)
			}
			if first {
				if n := batch.Next(sizes, lim); n != len(req) {
					t.Fatalf("Next = %d, the first request holds %d", n, len(req))
				}
				first = false
			}
			if len(req) > lim.MaxRecords {
				t.Fatalf("request of %d entries over MaxRecords %d", len(req), lim.MaxRecords)
			}
			acc := batch.NewAcc(lim)
			sum := 0
			for k, i := range req {
				if i != next {
					t.Fatalf("entry %d came out where entry %d was due", i, next)
				}
				next++
				sum += sizes[i]
				if sizes[i] > lim.MaxBytes && len(req) != 1 {
					t.Fatalf("entry %d of %d bytes, over MaxBytes %d, shares a request of %d", i, sizes[i], lim.MaxBytes, len(req))
				}
				if !acc.Add(sizes[i]) {
					t.Fatalf("Acc refused entry %d (%d of the request) that Split put in it", i, k)
				}
			}
			if sum > lim.MaxBytes && len(req) != 1 {
				t.Fatalf("request of %d entries and %d bytes over MaxBytes %d", len(req), sum, lim.MaxBytes)
			}
			if acc.Len() != len(req) || acc.Bytes() != sum {
				t.Fatalf("Acc counts %d entries and %d bytes, the request holds %d and %d", acc.Len(), acc.Bytes(), len(req), sum)
			}
			if next < len(sizes) {
				following := sizes[next]
				if len(req) < lim.MaxRecords && sum+following <= lim.MaxBytes {
					t.Fatalf("request cut at %d entries and %d bytes although entry %d of %d bytes fits", len(req), sum, next, following)
				}
				if acc.Add(following) {
					t.Fatalf("Acc took entry %d that Split kept for the next request", next)
				}
			}
			if acc.Full() != (acc.Len() >= lim.MaxRecords || acc.Bytes() >= lim.MaxBytes) {
				t.Fatalf("Full = %v at %d entries and %d bytes", acc.Full(), acc.Len(), acc.Bytes())
			}
		})
		if next != len(sizes) {
			t.Fatalf("%d of %d entries came out", next, len(sizes))
		}
		if len(sizes) == 0 && !first {
			t.Fatal("a request was emitted for no entries")
		}
	})
}

// FuzzBatchQueue runs random sequences of PushBack, PushFront, PopFront
// and Front on a batch.Queue and on a slice, and checks after every step
// that they hold the same entries in the same order; PopFront and Front on
// an empty queue must panic. The seeds are in testdata/fuzz/FuzzBatchQueue.
func FuzzBatchQueue(f *testing.F) {
	f.Fuzz(func(t *testing.T, ops []byte) {
		var q batch.Queue[int]
		var model []int
		for step, op := range ops {
			v := step + 1
			switch op % 4 {
			case 0:
				q.PushBack(v)
				model = append(model, v)
			case 1:
				q.PushFront(v)
				model = append([]int{v}, model...)
			case 2:
				if len(model) == 0 {
					batchMustPanic(t, "PopFront", func() { q.PopFront() })
					break
				}
				if got := q.PopFront(); got != model[0] {
					t.Fatalf("step %d: PopFront = %d, want %d", step, got, model[0])
				}
				model = model[1:]
			case 3:
				if len(model) == 0 {
					batchMustPanic(t, "Front", func() { q.Front() })
					break
				}
				if got := q.Front(); got != model[0] {
					t.Fatalf("step %d: Front = %d, want %d", step, got, model[0])
				}
			}
			if q.Len() != len(model) {
				t.Fatalf("step %d: Len = %d, want %d", step, q.Len(), len(model))
			}
		}
		for i, want := range model {
			if got := q.PopFront(); got != want {
				t.Fatalf("draining entry %d: PopFront = %d, want %d", i, got, want)
			}
		}
		if q.Len() != 0 {
			t.Fatalf("Len = %d after draining", q.Len())
		}
	})
}

func batchMustPanic(t *testing.T, name string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s on an empty queue did not panic", name)
		}
	}()
	fn()
}
