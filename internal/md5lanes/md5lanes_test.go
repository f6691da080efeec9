package md5lanes

import (
	"crypto/md5"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	md5simd "github.com/minio/md5-simd"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// messages returns n messages of different lengths from size up, so that
// the lanes end at different blocks, each with its own bytes.
func messages(n, size int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		m := make([]byte, size+i*13)
		for j := range m {
			m[j] = byte(i*31 + j*7)
		}
		msgs[i] = m
	}
	return msgs
}

// sumAll runs h.Sum into fresh 16-byte digests, each followed by a guard
// byte that Sum must not touch.
func sumAll(t *testing.T, h *Hasher, msgs [][]byte) {
	t.Helper()
	buf := make([]byte, 17*len(msgs))
	sums := make([][]byte, len(msgs))
	for i := range sums {
		buf[17*i+16] = 0xa5
		sums[i] = buf[17*i : 17*i+16 : 17*i+16]
	}
	h.Sum(msgs, sums)
	for i, m := range msgs {
		want := md5.Sum(m)
		require.Equal(t, want[:], sums[i], "message %d of %d (%d bytes)", i, len(msgs), len(m))
		require.Equal(t, byte(0xa5), buf[17*i+16], "the byte after digest %d", i)
	}
}

func TestSumMatchesCryptoMD5(t *testing.T) {
	h := &Hasher{}
	defer h.Close()
	for _, n := range []int{0, 1, 2, 3, 8, 16, 17, 40} { // scalar, lanes, a part set, several sets
		for _, size := range []int{0, 1, 55, 56, 64, 1000, 40 << 10} { // padding edges, blocks, more than one buffer
			t.Run(fmt.Sprintf("messages=%d/bytes=%d", n, size), func(t *testing.T) {
				sumAll(t, h, messages(n, size))
			})
		}
	}
}

// TestSumFromManyGoroutines has calls share the lanes, as the calls of a
// stream in flight do, and Close while some are under way: those finish
// with right digests, later ones hash alone, and the hashing goroutine
// stops (TestMain checks that no goroutine is left).
func TestSumFromManyGoroutines(t *testing.T) {
	h := &Hasher{}
	msgs := messages(20, 3000)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range 20 {
				sumAll(t, h, msgs[g%4:])
				if g == 0 && i == 10 {
					h.Close()
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	h.Close() // again: no effect
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Nil(t, h.srv, "the server stopped once the last call ended")
	assert.Zero(t, h.users)
}

func TestSumAfterCloseHashesAlone(t *testing.T) {
	h := &Hasher{}
	h.Close()
	assert.Nil(t, h.take(), "no lanes after Close")
	sumAll(t, h, messages(16, 4000)) // long enough for the lanes
	assert.Nil(t, h.srv, "no server is started after Close")
}

func BenchmarkSum(b *testing.B) {
	for _, size := range []int{256, 1 << 10, 4 << 10, 50 << 10} {
		msgs := messages(40, size)
		sums := make([][]byte, len(msgs))
		for i := range sums {
			sums[i] = make([]byte, 16)
		}
		total := 0
		for _, m := range msgs {
			total += len(m)
		}
		b.Run(fmt.Sprintf("impl=crypto/bytes=%d", size), func(b *testing.B) {
			b.SetBytes(int64(total))
			for b.Loop() {
				scalar(msgs, sums)
			}
		})
		b.Run(fmt.Sprintf("impl=lanes/bytes=%d", size), func(b *testing.B) {
			h := &Hasher{}
			defer h.Close()
			b.SetBytes(int64(total))
			for b.Loop() {
				h.Sum(msgs, sums)
			}
		})
	}
}

// TestSetsAreBounded takes every set of lanes there may be: a call then
// hashes on its own goroutine, with right digests, and a set given back
// serves the next call.
func TestSetsAreBounded(t *testing.T) {
	h := &Hasher{}
	defer h.Close()
	var held [][]md5simd.Hasher
	for range maxSets {
		lanes := h.take()
		require.NotNil(t, lanes)
		held = append(held, lanes)
	}
	assert.Nil(t, h.take(), "no set past maxSets")
	sumAll(t, h, messages(16, 4000))
	h.give(held[0])
	lanes := h.take()
	assert.Equal(t, &held[0][0], &lanes[0], "the set given back is taken again")
	h.give(lanes)
	for _, l := range held[1:] {
		h.give(l)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Len(t, h.free, maxSets, "every set made is free again")
	assert.Zero(t, h.users)
}
