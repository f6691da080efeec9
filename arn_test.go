package inskinesis

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamARNConfig(t *testing.T) {
	const arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
	for _, tc := range []struct {
		name       string
		streamName string
		arn        string
		field      string // the ConfigError's field; "" when valid
		reason     string // part of the reason
	}{
		{"ARN alone", "", arn, "", ""},
		{"ARN and the same name", "orders", arn, "", ""},
		{"aws-cn", "", "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/orders", "", ""},
		{"aws-us-gov", "", "arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/orders", "", ""},
		{"another aws partition", "", "arn:aws-iso-b:kinesis:us-isob-east-1:123456789012:stream/orders", "", ""},
		{"name and ARN disagree", "other", arn, "StreamARN", `names stream "orders", not StreamName "other"`},
		{"neither", "", "", "StreamName", "is required"},
		{"not an ARN", "", "orders", "StreamARN", "is not a stream ARN"},
		{"too few parts", "", "arn:aws:kinesis:eu-west-1:stream/orders", "StreamARN", "is not a stream ARN"},
		{"foreign partition", "", "arn:gcp:kinesis:eu-west-1:123456789012:stream/orders", "StreamARN", "partition"},
		{"another service", "", "arn:aws:firehose:eu-west-1:123456789012:stream/orders", "StreamARN", "service"},
		{"no region", "", "arn:aws:kinesis::123456789012:stream/orders", "StreamARN", "region"},
		{"bad region", "", "arn:aws:kinesis:EU-WEST-1:123456789012:stream/orders", "StreamARN", "region"},
		{"short account", "", "arn:aws:kinesis:eu-west-1:12345:stream/orders", "StreamARN", "account"},
		{"account with letters", "", "arn:aws:kinesis:eu-west-1:12345678901a:stream/orders", "StreamARN", "account"},
		{"a consumer ARN", "", "arn:aws:kinesis:eu-west-1:123456789012:stream/orders/consumer/c:1", "StreamARN", "stream name"},
		{"not a stream", "", "arn:aws:kinesis:eu-west-1:123456789012:table/orders", "StreamARN", "stream/NAME"},
		{"empty name", "", "arn:aws:kinesis:eu-west-1:123456789012:stream/", "StreamARN", "stream name"},
		{"bad name", "", "arn:aws:kinesis:eu-west-1:123456789012:stream/has space", "StreamARN", "stream name"},
		{"long name", "", "arn:aws:kinesis:eu-west-1:123456789012:stream/" + strings.Repeat("a", 129), "StreamARN", "stream name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config[event]{StreamName: tc.streamName, StreamARN: tc.arn, Client: newFake(1)}
			set, err := c.resolve()
			if tc.field == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.arn, set.streamARN)
				return
			}
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.Contains(t, ce.Reason, tc.reason)
		})
	}
}

// TestStreamARNRegion: without Region and Client, the client is built for
// the ARN's region; Region, when set, wins.
func TestStreamARNRegion(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	for _, tc := range []struct{ region, want string }{
		{"", "ap-southeast-2"},
		{"eu-central-1", "eu-central-1"},
	} {
		s, err := NewKinesis(Config[event]{StreamARN: "arn:aws:kinesis:ap-southeast-2:123456789012:stream/s", Region: tc.region})
		require.NoError(t, err)
		kc, ok := s.client.(*kinesis.Client)
		require.True(t, ok, "the client is a *kinesis.Client")
		assert.Equal(t, tc.want, kc.Options().Region)
		require.NoError(t, s.Close(context.Background()))
	}
}
