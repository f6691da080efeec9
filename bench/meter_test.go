package bench

import (
	"testing"
	"time"
)

// meter reports the custom metrics of a benchmark whose ops are records:
// records/s of wall time and, where the system reports it, process CPU time
// per record (cpu-ns/rec). Start it after b.ResetTimer.
type meter struct {
	cpu0 time.Duration
	ok   bool
}

func startMeter() meter {
	cpu, ok := processCPU()
	return meter{cpu0: cpu, ok: ok}
}

// report reports the metrics for records records, measured since the meter
// started over the benchmark's timed wall time.
func (m meter) report(b *testing.B, records int) {
	b.Helper()
	if records <= 0 {
		return
	}
	if el := b.Elapsed(); el > 0 {
		b.ReportMetric(float64(records)/el.Seconds(), "records/s")
	}
	if cpu, ok := processCPU(); ok && m.ok {
		b.ReportMetric(float64(cpu-m.cpu0)/float64(records), "cpu-ns/rec")
	}
}
