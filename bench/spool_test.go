package bench

import (
	"runtime"
	"testing"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/partition"
)

// BenchmarkPutSpool is BenchmarkPut's floor (100 bytes already encoded, a
// static key, a client that answers at once) with and without a spool
// (Config.SpoolDir) in a temporary directory: spool=off is the in-memory
// Put path, spool=on writes every record to the spool before Put returns
// and syncs it every SpoolSync (100 ms by default).
//
// client=sdk is the same through the real SDK client to a minimal server
// on 127.0.0.1 (see BenchmarkSDK), the path an application takes.
func BenchmarkPutSpool(b *testing.B) {
	for _, client := range []string{"canned", "sdk"} {
		for _, spool := range []bool{false, true} {
			name := "spool=off"
			if spool {
				name = "spool=on"
			}
			if client == "sdk" {
				name = "client=sdk/" + name
			}
			b.Run(name, func(b *testing.B) {
				var c inskinesis.PutRecordsAPI = newOKClient()
				if client == "sdk" {
					c = sdkClient(b, startOKServer(b).ts.URL)
				}
				cfg := throughputConfig[[]byte](c, codec.Bytes{}, partition.Static[[]byte]("key"))
				if spool {
					cfg.SpoolDir = b.TempDir()
				}
				benchPut(b, cfg, payload100)
			})
		}
	}
}

// BenchmarkPutSpoolSyncEach: with SpoolSync negative every Put waits for an
// fsync that covers its record; 8 goroutines put at once, so that fsyncs
// are shared (group commit). It reports records/s and fsyncs/s.
func BenchmarkPutSpoolSyncEach(b *testing.B) {
	cfg := throughputConfig[[]byte](newOKClient(), codec.Bytes{}, partition.Static[[]byte]("key"))
	cfg.SpoolDir = b.TempDir()
	cfg.SpoolSync = -1
	s := startStream(b, cfg, payload100)
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	m := startMeter()
	syncs0 := s.Stats().SpoolSyncs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Put(payload100); err != nil {
				b.Error(err)
				return
			}
		}
	})
	syncs := s.Stats().SpoolSyncs - syncs0
	if el := b.Elapsed(); el > 0 {
		b.ReportMetric(float64(syncs)/el.Seconds(), "fsyncs/s")
	}
	finishStream(b, s, cfg, m)
}
