package spool

import (
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func diskBytes(t *testing.T, dir string) int64 {
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var n int64
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		fi, err := e.Info()
		require.NoError(t, err)
		n += fi.Size()
	}
	return n
}

// TestModelKillReopen: random appends, reads, settles, syncs, kills and
// clean closes. After each reopen every unsettled record must be replayed,
// and no settled one.
func TestModelKillReopen(t *testing.T) {
	for seed := int64(0); seed < 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewSource(seed))
			dir := t.TempDir()
			segB := int64(200 + r.Intn(400))
			opts := Options{SegmentBytes: segB, MaxBytes: segB * int64(4+r.Intn(8))}
			s := open(t, dir, opts)
			unsettled := map[string]bool{} // data -> appended, not settled
			bySeq := map[uint64]string{}
			var held []uint64 // seqs handed out (kept or read), not yet settled
			ctr := 0
			check := func() {
				s.mu.Lock()
				b := s.bytes
				s.mu.Unlock()
				require.Equal(t, diskBytes(t, dir), b, "s.bytes vs files")
				require.GreaterOrEqual(t, b, int64(0))
			}
			for step := 0; step < 400; step++ {
				switch x := r.Intn(100); {
				case x < 50:
					pad := r.Intn(60)
					if r.Intn(20) == 0 {
						pad = int(segB) + r.Intn(int(segB))
					}
					d := fmt.Sprintf("d%d-%s", ctr, strings.Repeat("x", pad))
					ctr++
					seq, loaded, err := s.Append("k", "", []byte(d), r.Intn(2) == 0)
					if errors.Is(err, ErrFull) {
						break
					}
					require.NoError(t, err)
					unsettled[d] = true
					bySeq[seq] = d
					if loaded {
						held = append(held, seq)
					}
				case x < 65:
					e, err := s.Next(nil)
					if errors.Is(err, io.EOF) {
						break
					}
					require.NoError(t, err)
					require.Equal(t, bySeq[e.Seq], string(e.Data), "seq %d", e.Seq)
					held = append(held, e.Seq)
				case x < 85:
					if len(held) == 0 {
						break
					}
					k := r.Intn(len(held)) + 1
					r.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
					for _, q := range held[:k] {
						delete(unsettled, bySeq[q])
					}
					s.Settle(held[:k]...)
					held = held[k:]
				case x < 90:
					require.NoError(t, s.Sync())
				case x < 97:
					die(s)
					goto reopen
				default:
					require.NoError(t, s.Close())
					goto reopen
				}
				check()
				continue
			reopen:
				s = open(t, dir, opts)
				require.Empty(t, glob(t, dir, "*.free"))
				check()
				{
					got, es := readAll(t, s)
					seen := map[string]bool{}
					bySeq = map[uint64]string{}
					for i, g := range got {
						d := strings.TrimPrefix(g, "k=")
						require.True(t, unsettled[d], "replayed a settled or unknown record %q", d)
						require.False(t, seen[d], "replayed twice %q", d)
						seen[d] = true
						bySeq[es[i].Seq] = d
					}
					for d := range unsettled {
						require.True(t, seen[d], "lost %q", d)
					}
					held = nil
					for _, e := range es {
						held = append(held, e.Seq)
					}
				}
				check()
			}
			require.NoError(t, s.Close())
		})
	}
}
