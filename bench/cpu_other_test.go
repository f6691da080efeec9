//go:build !unix

package bench

import "time"

// processCPU is not available here: cpu-ns/rec is not reported.
func processCPU() (time.Duration, bool) { return 0, false }
