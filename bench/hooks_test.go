package bench

import (
	"io"
	"log/slog"
	"testing"

	"github.com/go-pkg/inskinesis"
	"github.com/go-pkg/inskinesis/codec"
	"github.com/go-pkg/inskinesis/partition"
)

// noopHook implements every hook and does nothing: what the stream pays to
// build and hand out the events.
type noopHook struct{}

func (noopHook) OnRecordBuffered(inskinesis.RecordBuffered)     {}
func (noopHook) OnRecordUnbuffered(inskinesis.RecordUnbuffered) {}
func (noopHook) OnRequestDone(inskinesis.RequestDone)           {}
func (noopHook) OnThrottle(inskinesis.Throttle)                 {}
func (noopHook) OnRetry(inskinesis.Retry)                       {}
func (noopHook) OnShardMap(inskinesis.ShardMap)                 {}
func (noopHook) OnAggregation(inskinesis.Aggregation)           {}

// BenchmarkPutObserved is BenchmarkPut's floor (codec=bytes) with a hook of
// every kind that does nothing, and with a logger that discards its lines:
// the cost of observing a stream, beyond what the hook itself does.
func BenchmarkPutObserved(b *testing.B) {
	b.Run("hooks=noop", func(b *testing.B) {
		cfg := throughputConfig[[]byte](newOKClient(), codec.Bytes{}, partition.Static[[]byte]("key"))
		cfg.Hooks = []inskinesis.Hook{noopHook{}}
		benchPut(b, cfg, payload100)
	})
	b.Run("logger=discard", func(b *testing.B) {
		cfg := throughputConfig[[]byte](newOKClient(), codec.Bytes{}, partition.Static[[]byte]("key"))
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		benchPut(b, cfg, payload100)
	})
}
