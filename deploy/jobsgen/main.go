// Command jobsgen writes deploy/jobs.sh from config.Jobs (go generate
// ./deploy runs it in deploy/).
package main

import (
	"fmt"
	"os"

	"github.com/cloudcoop/coopguard/deploy"
)

func main() {
	if err := os.WriteFile("jobs.sh", []byte(deploy.JobsScript()), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "jobsgen: %v (run it in deploy/: go generate ./deploy)\n", err)
		os.Exit(1)
	}
}
