// Package codectest holds checks every codec's tests run.
package codectest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/go-pkg/inskinesis/codec"
)

// ConcurrentRoundTrip has 16 goroutines share c, each encoding 300 values
// made by value(goroutine, i) into a reused buffer and decoding them back,
// and fails t when a decoded value is not equal to the one encoded.
func ConcurrentRoundTrip[T any](t *testing.T, c codec.Codec[T], value func(g, i int) T, equal func(a, b T) bool) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := range 300 {
				want := value(g, i)
				var err error
				buf, err = c.Encode(buf[:0], want)
				if err != nil {
					errs <- err
					return
				}
				got, err := c.Decode(buf)
				if err != nil {
					errs <- err
					return
				}
				if !equal(got, want) {
					errs <- fmt.Errorf("goroutine %d: got %+v, want %+v", g, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
