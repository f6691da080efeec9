package inskinesis

import (
	"fmt"
	"regexp"
	"strings"
)

// streamARN is a parsed Kinesis stream ARN.
type streamARN struct {
	partition, region, account, name string
}

var (
	// partitionRE accepts aws, aws-cn, aws-us-gov and the other aws-…
	// partitions (aws-iso, aws-iso-b, aws-eusc, …): AWS adds partitions from
	// time to time, and the service is the judge of the rest.
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2,}(-[a-z]+)+-[0-9]+$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
)

// parseStreamARN checks that s has the form
// arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME and returns its parts. The
// error says which part is wrong.
func parseStreamARN(s string) (streamARN, error) {
	const form = "arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME"
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return streamARN{}, fmt.Errorf("%q is not a stream ARN (%s)", s, form)
	}
	a := streamARN{partition: parts[1], region: parts[3], account: parts[4]}
	name, ok := strings.CutPrefix(parts[5], "stream/")
	switch {
	case !partitionRE.MatchString(a.partition):
		return a, fmt.Errorf("%q: partition %q is not aws, aws-cn, aws-us-gov or another aws-… partition", s, a.partition)
	case parts[2] != "kinesis":
		return a, fmt.Errorf("%q: service %q is not kinesis", s, parts[2])
	case !regionRE.MatchString(a.region):
		return a, fmt.Errorf("%q: region %q is not a region (like us-east-1)", s, a.region)
	case !accountRE.MatchString(a.account):
		return a, fmt.Errorf("%q: account %q is not 12 digits", s, a.account)
	case !ok:
		return a, fmt.Errorf("%q: resource %q is not stream/NAME", s, parts[5])
	case !streamNameRE.MatchString(name):
		return a, fmt.Errorf("%q: stream name %q is not valid (1 to 128 of a-z, A-Z, 0-9, _ . -)", s, name)
	}
	a.name = name
	return a, nil
}
