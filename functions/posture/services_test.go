package posture_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/functions/posture"
)

// TestServicesMatchDeploy: posture.Services are exactly the function names
// deploy/lib.sh deploys, so a renamed or added function is checked.
func TestServicesMatchDeploy(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "\nFUNCTIONS=(\n")
	if !ok {
		t.Fatal("deploy/lib.sh has no FUNCTIONS=( array")
	}
	block, _, _ := strings.Cut(rest, "\n)")
	var deployed []string
	for _, line := range strings.Split(block, "\n") {
		line = strings.Trim(strings.TrimSpace(line), `"`)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		deployed = append(deployed, strings.Fields(line)[0])
	}
	got := slices.Sorted(slices.Values(posture.Services))
	slices.Sort(deployed)
	if !slices.Equal(got, deployed) {
		t.Errorf("posture.Services = %v, deploy/lib.sh FUNCTIONS deploys %v: keep them equal", got, deployed)
	}
}
