// Package batch cuts encoded records into PutRecords requests that respect a
// record-count limit and a byte limit. It knows sizes only: what an entry is,
// and how its size is counted, is up to the caller (the stream counts data
// plus partition key bytes, as Kinesis does).
package batch

// Limits bound one request.
type Limits struct {
	// MaxRecords is the most entries a request may hold (Kinesis: 1..500).
	MaxRecords int
	// MaxBytes is the most bytes a request may hold, summed over its entries.
	MaxBytes int
}

// Acc accumulates the sizes of the entries of one request. The zero Acc
// has no limits set; call Reset before use.
type Acc struct {
	lim   Limits
	n     int
	bytes int
}

// NewAcc returns an empty accumulator for lim.
func NewAcc(lim Limits) Acc { return Acc{lim: lim} }

// Reset empties the accumulator, keeping its limits.
func (a *Acc) Reset() { a.n, a.bytes = 0, 0 }

// Add counts an entry of the given size if it fits, and reports whether it
// did. An empty accumulator takes any single entry, however large, so that
// an entry larger than MaxBytes travels alone instead of never leaving:
// callers reject entries that no request may carry before they get here.
func (a *Acc) Add(size int) bool {
	if !a.Fits(size) {
		return false
	}
	a.n++
	a.bytes += size
	return true
}

// Fits reports whether Add would take an entry of the given size.
func (a *Acc) Fits(size int) bool {
	return a.n == 0 || (a.n < a.lim.MaxRecords && a.bytes+size <= a.lim.MaxBytes)
}

// Len is the number of entries counted.
func (a *Acc) Len() int { return a.n }

// Bytes is the sum of the sizes counted.
func (a *Acc) Bytes() int { return a.bytes }

// Full reports whether no further entry can be added, whatever its size.
func (a *Acc) Full() bool { return a.n >= a.lim.MaxRecords || a.bytes >= a.lim.MaxBytes }

// Next returns how many of the leading entries of sizes go into the next
// request: at least one when sizes is not empty.
func Next(sizes []int, lim Limits) int {
	a := NewAcc(lim)
	for i, s := range sizes {
		if !a.Add(s) {
			return i
		}
	}
	return len(sizes)
}

// Split cuts entries into consecutive requests within lim, in order, and
// calls emit with each. The slice passed to emit aliases entries. size
// returns an entry's size in bytes. Split does not allocate.
func Split[E any](entries []E, size func(E) int, lim Limits, emit func([]E)) {
	a := NewAcc(lim)
	start := 0
	for i, e := range entries {
		if !a.Add(size(e)) {
			emit(entries[start:i])
			start = i
			a.Reset()
			a.Add(size(e))
		}
	}
	if start < len(entries) {
		emit(entries[start:])
	}
}
