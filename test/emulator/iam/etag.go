package iam

import (
	"bytes"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CheckEtag refuses a setIamPolicy whose policy carries an etag that is no
// longer the current one, with ABORTED as every IAM-enabled API answers
// (https://cloud.google.com/iam/docs/policies#etag); a policy sent without
// an etag overwrites.
func CheckEtag(sent, current []byte) error {
	if len(sent) > 0 && !bytes.Equal(sent, current) {
		return status.Error(codes.Aborted, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
	}
	return nil
}
