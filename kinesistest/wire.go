package kinesistest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// apiError is an error answer: an HTTP status and an AWS error code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func clientErr(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

const (
	codeValidation       = "ValidationException"
	codeInvalidArgument  = "InvalidArgumentException"
	codeNotFound         = "ResourceNotFoundException"
	codeInUse            = "ResourceInUseException"
	codeLimitExceeded    = "LimitExceededException"
	codeThroughput       = "ProvisionedThroughputExceededException"
	codeInternalFailure  = "InternalFailure"
	codeExpiredIterator  = "ExpiredIteratorException"
	codeExpiredNextToken = "ExpiredNextTokenException"
	codeSerialization    = "SerializationException"
	codeUnknownOperation = "UnknownOperationException"
	codeServiceUnavail   = "ServiceUnavailable"
)

// decode parses a JSON request body into v. A body that is not JSON, or
// whose fields have the wrong JSON types, is a SerializationException, as on
// AWS. Unknown fields are ignored.
func decode(body []byte, v any) *apiError {
	if len(body) == 0 {
		return &apiError{status: http.StatusBadRequest, code: codeSerialization}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{status: http.StatusBadRequest, code: codeSerialization, msg: serializationMessage(err)}
	}
	return nil
}

func serializationMessage(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("class %s can not be converted to %s", e.Value, e.Type)
	case *json.SyntaxError:
		return "Malformed JSON: " + e.Error()
	}
	return err.Error()
}

// violations collects member constraint failures and formats them the way
// AWS does: "2 validation errors detected: Value '…' at 'records.1.member.data'
// failed to satisfy constraint: …; …". At most 10 are listed.
type violations struct{ list []string }

func (v *violations) add(value, path, constraint string) {
	if len(v.list) >= 10 {
		return
	}
	v.list = append(v.list, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, path, constraint))
}

func (v *violations) err() *apiError {
	if len(v.list) == 0 {
		return nil
	}
	plural := "s"
	if len(v.list) == 1 {
		plural = ""
	}
	return clientErr(codeValidation, "%d validation error%s detected: %s", len(v.list), plural, strings.Join(v.list, "; "))
}

func quoteVal(s string) string { return "'" + s + "'" }

func blobVal(n int) string {
	return fmt.Sprintf("'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]'", n, n)
}

// checkString applies the length (in Unicode code points) and pattern
// constraints of a string member.
func (v *violations) checkString(s *string, path string, required bool, minLen, maxLen int, pattern func(string) bool, patternText string) {
	if s == nil {
		if required {
			v.add("null", path, "Member must not be null")
		}
		return
	}
	n := utf8.RuneCountInString(*s)
	if n < minLen {
		v.add(quoteVal(*s), path, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	}
	if maxLen > 0 && n > maxLen {
		v.add(quoteVal(*s), path, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
	if pattern != nil && n >= minLen && !pattern(*s) {
		v.add(quoteVal(*s), path, "Member must satisfy regular expression pattern: "+patternText)
	}
}

func (v *violations) checkInt(n *int64, path string, required bool, lo, hi int64) {
	if n == nil {
		if required {
			v.add("null", path, "Member must not be null")
		}
		return
	}
	if *n < lo {
		v.add(quoteVal(strconv.FormatInt(*n, 10)), path, fmt.Sprintf("Member must have value greater than or equal to %d", lo))
	}
	if *n > hi {
		v.add(quoteVal(strconv.FormatInt(*n, 10)), path, fmt.Sprintf("Member must have value less than or equal to %d", hi))
	}
}

const (
	namePatternText = "[a-zA-Z0-9_.-]+"
	ehkPatternText  = "0|([1-9]\\d{0,38})"
	seqPatternText  = "0|([1-9]\\d{0,128})"
)

func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// streamRef names a stream by StreamName or StreamARN, as every stream
// operation may.
type streamRef struct {
	StreamName *string `json:"StreamName"`
	StreamARN  *string `json:"StreamARN"`
}

func (r *streamRef) check(v *violations) {
	v.checkString(r.StreamName, "streamName", false, 1, 128, isName, namePatternText)
	v.checkString(r.StreamARN, "streamARN", false, 1, 2048, nil, "")
}

// epochTime is a timestamp in the awsJson wire form: seconds since the Unix
// epoch as a JSON number with millisecond precision.
type epochTime time.Time

func (t epochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	return []byte(fmt.Sprintf("%d.%03d", sec, frac)), nil
}

// timeFromEpoch converts an awsJson timestamp (seconds, possibly fractional).
func timeFromEpoch(f float64) time.Time {
	sec := math.Floor(f)
	ms := math.Round((f - sec) * 1000)
	return time.Unix(int64(sec), int64(ms)*int64(time.Millisecond))
}

// Wire shapes of the inputs and outputs. Field names are the awsJson member
// names of the Kinesis API (2013-12-02).

type hashKeyRangeW struct {
	StartingHashKey string `json:"StartingHashKey"`
	EndingHashKey   string `json:"EndingHashKey"`
}

type seqRangeW struct {
	StartingSequenceNumber string `json:"StartingSequenceNumber"`
	EndingSequenceNumber   string `json:"EndingSequenceNumber,omitempty"`
}

type shardW struct {
	ShardId               string        `json:"ShardId"`
	ParentShardId         string        `json:"ParentShardId,omitempty"`
	AdjacentParentShardId string        `json:"AdjacentParentShardId,omitempty"`
	HashKeyRange          hashKeyRangeW `json:"HashKeyRange"`
	SequenceNumberRange   seqRangeW     `json:"SequenceNumberRange"`
}

type childShardW struct {
	ShardId      string        `json:"ShardId"`
	ParentShards []string      `json:"ParentShards"`
	HashKeyRange hashKeyRangeW `json:"HashKeyRange"`
}

type streamModeW struct {
	StreamMode string `json:"StreamMode"`
}

type enhancedMetricsW struct {
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

type putEntryIn struct {
	Data            []byte  `json:"Data"`
	PartitionKey    *string `json:"PartitionKey"`
	ExplicitHashKey *string `json:"ExplicitHashKey"`
}

type putRecordsIn struct {
	streamRef
	Records []putEntryIn `json:"Records"`
}

type putResultW struct {
	SequenceNumber string `json:"SequenceNumber,omitempty"`
	ShardId        string `json:"ShardId,omitempty"`
	ErrorCode      string `json:"ErrorCode,omitempty"`
	ErrorMessage   string `json:"ErrorMessage,omitempty"`
}

type putRecordsOut struct {
	FailedRecordCount int          `json:"FailedRecordCount"`
	Records           []putResultW `json:"Records"`
}

type putRecordIn struct {
	streamRef
	Data                      []byte  `json:"Data"`
	PartitionKey              *string `json:"PartitionKey"`
	ExplicitHashKey           *string `json:"ExplicitHashKey"`
	SequenceNumberForOrdering *string `json:"SequenceNumberForOrdering"`
}

type putRecordOut struct {
	SequenceNumber string `json:"SequenceNumber"`
	ShardId        string `json:"ShardId"`
}
