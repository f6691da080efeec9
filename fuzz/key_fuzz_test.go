package fuzz

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/go-pkg/inskinesis"
)

// keyRecord is a record whose partition key and data are chosen by the
// fuzzer: keyPartitioner returns key, and keyCodec writes data.
type keyRecord struct {
	key  string
	data []byte
}

type keyCodec struct{}

func (keyCodec) Encode(dst []byte, r keyRecord) ([]byte, error) { return append(dst, r.data...), nil }
func (keyCodec) Decode(data []byte) (keyRecord, error) {
	return keyRecord{data: append([]byte(nil), data...)}, nil
}

func keyPartitioner(r keyRecord) string { return r.key }

// keyOKClient answers success for every entry at once, and counts calls
// that carried an entry Kinesis would refuse for its key.
type keyOKClient struct {
	badKeys atomic.Int64
}

func (c *keyOKClient) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0), Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	for i, e := range in.Records {
		if _, ok := keyOracle(aws.ToString(e.PartitionKey)); !ok {
			c.badKeys.Add(1)
		}
		out.Records[i] = types.PutRecordsResultEntry{ShardId: aws.String("shardId-000000000000"), SequenceNumber: aws.String("1")}
	}
	return out, nil
}

// keyStream starts a stream that sends every record at once to a
// keyOKClient, and stops it when f's fuzzing ends.
func keyStream(f *testing.F, maxRecordSize int) (*inskinesis.Stream[keyRecord], *keyOKClient) {
	client := &keyOKClient{}
	s, err := inskinesis.NewKinesis(inskinesis.Config[keyRecord]{
		StreamName:         "fuzz",
		Client:             client,
		Codec:              keyCodec{},
		Partitioner:        keyPartitioner,
		MaxStreamBatchSize: 1, // send each record at once
		MaxGroup:           4,
		MaxRecordSize:      maxRecordSize,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			f.Errorf("Close: %v", err)
		}
		if n := client.badKeys.Load(); n != 0 {
			f.Errorf("%d records with an invalid key reached the client", n)
		}
	})
	return s, client
}

// keyOracle decodes key as UTF-8 by the well-formed byte sequences of the
// Unicode Standard (table 3-7), independently of package unicode/utf8, and
// reports its code points and whether Kinesis takes it as a partition key:
// well-formed, with 1 to 256 code points.
func keyOracle(key string) (codePoints int, ok bool) {
	in := func(b, lo, hi byte) bool { return lo <= b && b <= hi }
	for i := 0; i < len(key); codePoints++ {
		b := key[i]
		var n int            // bytes in the sequence
		lo, hi := 0x80, 0xBF // range of the second byte
		switch {
		case b <= 0x7F:
			n = 1
		case in(b, 0xC2, 0xDF):
			n = 2
		case b == 0xE0:
			n, lo = 3, 0xA0
		case in(b, 0xE1, 0xEC), in(b, 0xEE, 0xEF):
			n = 3
		case b == 0xED:
			n, hi = 3, 0x9F // no surrogates
		case b == 0xF0:
			n, lo = 4, 0x90
		case in(b, 0xF1, 0xF3):
			n = 4
		case b == 0xF4:
			n, hi = 4, 0x8F // nothing above U+10FFFF
		default:
			return codePoints, false
		}
		if i+n > len(key) {
			return codePoints, false
		}
		for k := 1; k < n; k++ {
			c := key[i+k]
			if k == 1 && !in(c, byte(lo), byte(hi)) || k > 1 && !in(c, 0x80, 0xBF) {
				return codePoints, false
			}
		}
		i += n
	}
	return codePoints, codePoints >= 1 && codePoints <= inskinesis.MaxPartitionKeyLength
}

// FuzzKeyValidation puts a record with a fuzzed partition key through the
// public API: Put must accept it if and only if the key is well-formed
// UTF-8 of 1 to 256 code points (by keyOracle), and otherwise fail with
// ErrInvalidPartitionKey; no invalid key may reach the client. The seeds
// are in testdata/fuzz/FuzzKeyValidation.
func FuzzKeyValidation(f *testing.F) {
	s, _ := keyStream(f, 0)
	data := []byte("payload")
	f.Fuzz(func(t *testing.T, key string) {
		n, valid := keyOracle(key)
		err := s.Put(keyRecord{key: key, data: data})
		switch {
		case valid && err != nil:
			t.Fatalf("Put refused the key %q of %d code points: %v", key, n, err)
		case !valid && !errors.Is(err, inskinesis.ErrInvalidPartitionKey):
			t.Fatalf("Put of the invalid key %q returned %v, want ErrInvalidPartitionKey", key, err)
		}
	})
}

// keySmallMaxRecordSize is the second stream's MaxRecordSize, small enough
// that a long key alone can exceed it.
const keySmallMaxRecordSize = 1000

// FuzzKeyRecordSize puts records whose data plus key are delta bytes from
// the stream's MaxRecordSize (the default 1 MiB, or 1000 bytes when small):
// Put must fail with ErrRecordTooLarge exactly when the sum is over the
// limit, counting the key's UTF-8 bytes. The fuzzed key is first made a
// valid one. The seeds are in testdata/fuzz/FuzzKeyRecordSize.
func FuzzKeyRecordSize(f *testing.F) {
	big, _ := keyStream(f, 0)
	small, _ := keyStream(f, keySmallMaxRecordSize)
	buf := make([]byte, inskinesis.DefaultMaxRecordSize+16)
	f.Fuzz(func(t *testing.T, key string, delta int32, useSmall bool) {
		key = keyValid(key)
		s, limit := big, inskinesis.DefaultMaxRecordSize
		if useSmall {
			s, limit = small, keySmallMaxRecordSize
		}
		d := max(min(int(delta), 16), -limit) // near the boundary, within buf
		n := max(limit-len(key)+d, 0)
		err := s.Put(keyRecord{key: key, data: buf[:n]})
		tooLarge := n+len(key) > limit
		switch {
		case tooLarge && !errors.Is(err, inskinesis.ErrRecordTooLarge):
			t.Fatalf("%d bytes of data and %d of key, limit %d: Put returned %v, want ErrRecordTooLarge", n, len(key), limit, err)
		case !tooLarge && err != nil:
			t.Fatalf("%d bytes of data and %d of key, limit %d: Put refused the record: %v", n, len(key), limit, err)
		}
	})
}

// keyValid turns any string into a valid partition key: invalid bytes
// become '?', the key is cut to 256 code points, and an empty key becomes
// "k".
func keyValid(key string) string {
	key = strings.ToValidUTF8(key, "?")
	if r := []rune(key); len(r) > inskinesis.MaxPartitionKeyLength {
		key = string(r[:inskinesis.MaxPartitionKeyLength])
	}
	if key == "" {
		key = "k"
	}
	if _, ok := keyOracle(key); !ok {
		panic("keyValid made an invalid key: " + key)
	}
	return key
}
