//go:build race

package partition_test

// raceEnabled reports whether the race detector is on; allocation counts
// differ under it.
const raceEnabled = true
