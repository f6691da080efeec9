package inskinesis

import (
	"fmt"
	"testing"

	"github.com/go-pkg/inskinesis/internal/hashkey"
)

// keyHash answers the MD5 hash key of every key, whether the key repeats
// (and is kept) or changes from record to record, and keeps no key built
// per record at the cost of an allocation.
func TestKeyHash(t *testing.T) {
	s := &Stream[[]byte]{}
	static := "static-key"
	keys := []string{static, static, static, "other", static, static}
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("fresh-%d", i), static)
	}
	for i, k := range keys {
		if got, want := s.keyHash(k, s.lastKey.Load()), hashkey.Of(k); got != want {
			t.Fatalf("key %d %q: hash %v, want %v", i, k, got, want)
		}
	}
	if c := s.lastKey.Load(); c == nil || c.key != static {
		t.Fatalf("kept %+v, want the repeated key %q", c, static)
	}
	fresh := make([]string, 1000)
	for i := range fresh {
		fresh[i] = fmt.Sprintf("fresh-%d", i)
	}
	i := 0
	if n := testing.AllocsPerRun(len(fresh)-1, func() { s.keyHash(fresh[i], s.lastKey.Load()); i++ }); n != 0 {
		t.Fatalf("%v allocations per key built per record, want 0", n)
	}
}
