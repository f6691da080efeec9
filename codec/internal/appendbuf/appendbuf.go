// Package appendbuf holds the writer the codecs encode through, so that an
// encoder of a library that writes to an io.Writer appends to the caller's
// slice instead of a buffer of its own.
package appendbuf

// Writer appends what is written to Buf; it never fails. It has WriteByte
// too, which encoders that look for an io.ByteWriter use.
type Writer struct {
	Buf []byte
}

// Write appends p to Buf.
func (w *Writer) Write(p []byte) (int, error) {
	w.Buf = append(w.Buf, p...)
	return len(p), nil
}

// WriteByte appends c to Buf.
func (w *Writer) WriteByte(c byte) error {
	w.Buf = append(w.Buf, c)
	return nil
}
