package inskinesis

import "runtime"

// goroutineID returns the id of the calling goroutine, read from the header
// of its stack trace ("goroutine 123 [running]:"). It costs about a
// microsecond: the stream calls it only to tell whether a blocking method
// was called from a PutAsync callback while one runs.
func goroutineID() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	const prefix = "goroutine "
	if n <= len(prefix) {
		return 0
	}
	var id uint64
	for _, c := range buf[len(prefix):n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
