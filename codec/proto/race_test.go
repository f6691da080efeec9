//go:build race

package proto_test

// raceEnabled reports whether the race detector is on; sync.Pool drops items
// at random under it, so allocation counts are not meaningful then.
const raceEnabled = true
