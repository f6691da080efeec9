package putjson

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAppendBase64MatchesTheStandardEncoding compares every length from 0
// to 200 bytes (each of the fast paths' boundaries, and each padding),
// after a prefix and into a buffer with and without room.
func TestAppendBase64MatchesTheStandardEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 201 {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		want := base64.StdEncoding.AppendEncode([]byte("prefix"), src)
		require.Equal(t, string(want), string(appendBase64([]byte("prefix"), src)), "%d bytes", n)
		roomy := append(make([]byte, 0, 512), "prefix"...)
		require.Equal(t, string(want), string(appendBase64(roomy, src)), "%d bytes into a buffer with room", n)
	}
	every := make([]byte, 256*3) // every byte value in every position of a group of 3
	for i := range every {
		every[i] = byte(i / 3)
	}
	require.Equal(t, base64.StdEncoding.EncodeToString(every), string(appendBase64(nil, every)))
	for i := range every {
		every[i] = byte(i)
	}
	require.Equal(t, base64.StdEncoding.EncodeToString(every), string(appendBase64(nil, every)))
}

func FuzzAppendBase64(f *testing.F) {
	f.Add([]byte(""), []byte("x"))
	f.Add([]byte("\xff\xfe\xfd"), []byte{})
	f.Add(make([]byte, 27), []byte("{\"Data\":\""))
	f.Fuzz(func(t *testing.T, src, prefix []byte) {
		want := base64.StdEncoding.AppendEncode(append([]byte(nil), prefix...), src)
		if got := appendBase64(append([]byte(nil), prefix...), src); string(got) != string(want) {
			t.Fatalf("appendBase64(%x) = %q, want %q", src, got, want)
		}
	})
}

func BenchmarkAppendBase64(b *testing.B) {
	for _, n := range []int{100, 25000} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i * 7)
		}
		dst := make([]byte, 0, 2*n)
		b.Run(fmt.Sprintf("impl=stdlib/bytes=%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				dst = base64.StdEncoding.AppendEncode(dst[:0], src)
			}
		})
		b.Run(fmt.Sprintf("impl=pairs/bytes=%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				dst = appendBase64(dst[:0], src)
			}
		})
	}
}
