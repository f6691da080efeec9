package inskinesis

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigBounds: every numeric field has an upper bound, so that a
// mistyped value gets a *ConfigError naming the field and its range instead
// of crashing the process (a panic in makechan, an out-of-memory kill, an
// overflow in the backoff); the bound itself is accepted.
func TestConfigBounds(t *testing.T) {
	// 1 TiB, MaxBufferedBytes' bound, or the largest int where that is less.
	const tib64 = int64(1) << 40
	tib := int(min(tib64, int64(math.MaxInt)))
	tests := []struct {
		field string
		over  func(*Config[event])
		at    func(*Config[event])
		rng   string // the range the error states
	}{
		{"MaxBatchSize", func(c *Config[event]) { c.MaxBatchSize = math.MaxInt }, func(c *Config[event]) { c.MaxBatchSize = 1 << 24 }, "1..16777216"},
		{"MaxBufferedBytes", func(c *Config[event]) { c.MaxBufferedBytes = math.MaxInt }, func(c *Config[event]) { c.MaxBufferedBytes = tib }, "1..1099511627776"},
		{"MaxGroup", func(c *Config[event]) { c.MaxGroup = math.MaxInt }, func(c *Config[event]) { c.MaxGroup = 1024 }, "1..1024"},
		{"RetryCount", func(c *Config[event]) { c.RetryCount = math.MaxInt }, func(c *Config[event]) { c.RetryCount = 1 << 30 }, "above 1073741824"},
		{"RetryInterval", func(c *Config[event]) { c.RetryInterval = math.MaxInt64 }, func(c *Config[event]) { c.RetryInterval = time.Hour }, "0..1h0m0s"},
		{"MaxRetryInterval", func(c *Config[event]) { c.MaxRetryInterval = math.MaxInt64 }, func(c *Config[event]) { c.MaxRetryInterval = time.Hour }, "0..1h0m0s"},
		{"FlushInterval", func(c *Config[event]) { c.FlushInterval = math.MaxInt64 }, func(c *Config[event]) { c.FlushInterval = time.Hour }, "0..1h0m0s"},
		{"RequestTimeout", func(c *Config[event]) { c.RequestTimeout = math.MaxInt64 }, func(c *Config[event]) { c.RequestTimeout = time.Hour }, "0..1h0m0s"},
		{"RecordTTL", func(c *Config[event]) { c.RecordTTL = math.MaxInt64 }, func(c *Config[event]) { c.RecordTTL = 7 * 24 * time.Hour }, "0..168h0m0s"},
		{"MaxRecordSize", func(c *Config[event]) { c.MaxRecordSize = math.MaxInt }, func(c *Config[event]) { c.MaxRecordSize = 10 << 20 }, "1..10485760"},
		{"ErrorBufferSize", func(c *Config[event]) { c.ErrorBufferSize = math.MaxInt }, func(c *Config[event]) { c.ErrorBufferSize = 1 << 20 }, "0..1048576"},
		{"ErrorBufferSize", func(c *Config[event]) { c.ErrorBufferSize = tib }, func(c *Config[event]) { c.ErrorBufferSize = 1 << 20 }, "0..1048576"},
		{"AggregationMaxBytes", func(c *Config[event]) { c.AggregationMaxBytes = math.MaxInt }, func(c *Config[event]) { c.AggregationMaxBytes = DefaultMaxRecordSize }, "21..MaxRecordSize"},
		{"AggregationMaxBytes", func(c *Config[event]) { c.AggregationMaxBytes = -1 }, func(c *Config[event]) { c.AggregationMaxBytes = 21 }, "21..MaxRecordSize"},
		{"AggregationMaxCount", func(c *Config[event]) { c.AggregationMaxCount = math.MaxInt }, func(c *Config[event]) { c.AggregationMaxCount = 1 << 20 }, "1..1048576"},
		{"ShardRateLimit", func(c *Config[event]) { c.ShardRateLimit = math.MaxInt }, func(c *Config[event]) { c.ShardRateLimit = 1000 }, "0..1000"},
		{"MaxStreamBatchSize", func(c *Config[event]) { c.MaxStreamBatchSize = math.MaxInt }, func(c *Config[event]) { c.MaxStreamBatchSize = 500 }, "1..500"},
		{"MaxStreamBatchByteSize", func(c *Config[event]) { c.MaxStreamBatchByteSize = math.MaxInt }, func(c *Config[event]) { c.MaxStreamBatchByteSize = 10 << 20 }, "1..10485760"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if tt.field == "MaxBufferedBytes" && int64(math.MaxInt) < tib64 {
				t.Skip("no int is beyond the bound on this platform")
			}
			cfg := Config[event]{StreamName: "s", Client: newFake(1)}
			tt.over(&cfg)
			s, err := NewKinesis(cfg)
			require.Error(t, err)
			assert.Nil(t, s)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
			assert.Contains(t, ce.Reason, tt.rng)

			cfg = Config[event]{StreamName: "s", Client: &listingFake{fakeKinesis: newFake(1)}}
			tt.at(&cfg)
			s, err = NewKinesis(cfg)
			require.NoError(t, err, "the bound itself is accepted")
			require.NoError(t, s.Close(context.Background()))
		})
	}
}

// listShardsPanics panics in ListShards.
type listShardsPanics struct{ *fakeKinesis }

func (listShardsPanics) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	panic("broken client")
}

// TestBadClientsFailNewKinesis: a typed nil client, or a client whose
// ListShards panics, makes NewKinesis return an error instead of panicking.
func TestBadClientsFailNewKinesis(t *testing.T) {
	var nilClient *kinesis.Client
	var nilFake *fakeKinesis
	tests := []struct {
		name  string
		cfg   Config[event]
		field string // of the *ConfigError; "" for another error
		text  string
	}{
		{"a nil *kinesis.Client", Config[event]{StreamName: "s", Client: nilClient}, "Client", "nil *kinesis.Client"},
		{"a nil *kinesis.Client with aggregation", Config[event]{StreamName: "s", Client: nilClient, AggregateRecords: true}, "Client", "nil *kinesis.Client"},
		{"a nil *kinesis.Client with a rate limit", Config[event]{StreamName: "s", Client: nilClient, ShardRateLimit: 100}, "Client", "nil *kinesis.Client"},
		{"a nil fake", Config[event]{StreamName: "s", Client: nilFake}, "Client", "nil"},
		{"ListShards panics with aggregation", Config[event]{StreamName: "s", Client: listShardsPanics{newFake(1)}, AggregateRecords: true}, "", "ListShards panicked: broken client"},
		{"ListShards panics with a rate limit", Config[event]{StreamName: "s", Client: listShardsPanics{newFake(1)}, ShardRateLimit: 100}, "", "ListShards panicked: broken client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *Stream[event]
			var err error
			require.NotPanics(t, func() { s, err = NewKinesis(tt.cfg) })
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.text)
			var ce *ConfigError
			if tt.field != "" {
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tt.field, ce.Field)
			} else {
				assert.False(t, errors.As(err, &ce), "a client failure is not a config error")
			}
		})
	}
}
