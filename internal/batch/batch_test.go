package batch

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNext(t *testing.T) {
	lim := Limits{MaxRecords: 3, MaxBytes: 100}
	tests := []struct {
		name  string
		sizes []int
		want  int
	}{
		{"an empty input gives an empty request", nil, 0},
		{"small entries stop at the record limit", []int{1, 1, 1, 1}, 3},
		{"entries stop before the byte limit is passed", []int{40, 40, 40}, 2},
		{"entries that fill the byte limit exactly all go", []int{50, 50}, 2},
		{"an entry over the byte limit goes alone", []int{150, 1}, 1},
		{"an entry over the byte limit waits for the next request", []int{10, 150}, 1},
		{"zero-size entries count toward the record limit", []int{0, 0, 0, 0}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Next(tt.sizes, lim))
		})
	}
}

func TestSplitKeepsOrderAndLimits(t *testing.T) {
	lim := Limits{MaxRecords: 4, MaxBytes: 1000}
	sizes := make([]int, 0, 1000)
	for i := 0; i < 1000; i++ {
		sizes = append(sizes, (i*7919)%1200) // some over the byte limit
	}
	next := 0
	Split(sizes, func(s int) int { return s }, lim, func(req []int) {
		require.NotEmpty(t, req)
		sum := 0
		for _, s := range req {
			assert.Equal(t, sizes[next], s, "entries come out in order, once")
			next++
			sum += s
		}
		assert.LessOrEqual(t, len(req), lim.MaxRecords)
		if len(req) > 1 {
			assert.LessOrEqual(t, sum, lim.MaxBytes)
		}
	})
	assert.Equal(t, len(sizes), next)
}

func TestAccFull(t *testing.T) {
	a := NewAcc(Limits{MaxRecords: 2, MaxBytes: 10})
	assert.False(t, a.Full())
	require.True(t, a.Add(10))
	assert.True(t, a.Full(), "the byte limit is reached")
	assert.False(t, a.Add(1), "no byte fits a request at its byte limit")
	a.Reset()
	assert.Equal(t, 0, a.Len())
	require.True(t, a.Add(1))
	require.True(t, a.Add(1))
	assert.True(t, a.Full(), "the record limit is reached")
	assert.Equal(t, 2, a.Bytes())
}

func TestQueue(t *testing.T) {
	var q Queue[int]
	for i := 0; i < 40; i++ {
		q.PushBack(i)
	}
	for i := 0; i < 30; i++ {
		require.Equal(t, i, q.PopFront())
	}
	q.PushFront(-1)
	q.PushFront(-2)
	for i := 40; i < 100; i++ { // wraps around and grows
		q.PushBack(i)
	}
	want := append([]int{-2, -1}, seq(30, 100)...)
	require.Equal(t, len(want), q.Len())
	assert.Equal(t, -2, q.Front())
	for _, w := range want {
		require.Equal(t, w, q.PopFront())
	}
	assert.Equal(t, 0, q.Len())
	assert.Panics(t, func() { q.PopFront() })
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestAllocs(t *testing.T) {
	sizes := make([]int, 1000)
	for i := range sizes {
		sizes[i] = 100
	}
	lim := Limits{MaxRecords: 500, MaxBytes: 256 << 10}
	n := 0
	emit := func(req []int) { n += len(req) }
	size := func(s int) int { return s }
	allocs := testing.AllocsPerRun(100, func() { Split(sizes, size, lim, emit) })
	assert.Zero(t, allocs)
	var q Queue[int]
	for i := 0; i < 64; i++ {
		q.PushBack(i)
	}
	for q.Len() > 0 {
		q.PopFront()
	}
	allocs = testing.AllocsPerRun(100, func() {
		for i := 0; i < 64; i++ {
			q.PushBack(i)
		}
		for q.Len() > 0 {
			q.PopFront()
		}
	})
	assert.Zero(t, allocs, "a queue at its working size does not allocate")
}

func TestQueueGrowsAtEitherEnd(t *testing.T) {
	tests := []struct {
		name  string
		front bool // push the entry that overflows the buffer at the front
		head  int  // entries popped first, so that the ring wraps
	}{
		{"full at the back, not wrapped", false, 0},
		{"full at the back, wrapped", false, 5},
		{"full at the front, not wrapped", true, 0},
		{"full at the front, wrapped", true, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q Queue[int]
			var want []int
			for i := range minQueueCap + tt.head {
				q.PushBack(i)
				want = append(want, i)
			}
			for range tt.head {
				q.PopFront()
			}
			want = want[tt.head:]
			for len(want) < minQueueCap { // refill: the buffer is full again
				v := 1000 + len(want)
				q.PushBack(v)
				want = append(want, v)
			}
			if tt.front {
				q.PushFront(-1)
				want = append([]int{-1}, want...)
			} else {
				q.PushBack(-1)
				want = append(want, -1)
			}
			require.Equal(t, len(want), q.Len())
			for i, w := range want {
				require.Equal(t, w, q.PopFront(), "entry %d", i)
			}
		})
	}
}
