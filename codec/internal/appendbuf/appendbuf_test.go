package appendbuf

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWriterAppends(t *testing.T) {
	w := Writer{Buf: []byte("prefix:")}
	fmt.Fprintf(&w, "%d", 42)
	assert.NoError(t, w.WriteByte('!'))
	assert.Equal(t, "prefix:42!", string(w.Buf))
}
