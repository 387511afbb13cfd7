// Package roles holds coopguard's custom role files (deploy/roles/*.yaml),
// embedded once: deploy creates them in coopguard's project from these
// files, and Provision creates the same roles in each sandbox project
// (provisioner/jobroles.go), so both read the one definition.
package roles

import (
	"embed"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// files are the role files, as `gcloud iam roles create --file` reads them.
//
//go:embed *.yaml
var files embed.FS

// Role is a custom role definition file.
type Role struct {
	Title               string   `yaml:"title"`
	Description         string   `yaml:"description"`
	Stage               string   `yaml:"stage"`
	IncludedPermissions []string `yaml:"includedPermissions"`
}

// Parse decodes and checks a role definition; name says which file in
// errors.
func Parse(name string, b []byte) (*Role, error) {
	var r Role
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case r.Title == "" || len(r.Title) > 100:
		return nil, fmt.Errorf("%s: title must be 1-100 characters", name)
	case len(r.Description) > 300:
		return nil, fmt.Errorf("%s: description is over 300 characters", name)
	case r.Stage != "GA" && r.Stage != "BETA" && r.Stage != "ALPHA":
		return nil, fmt.Errorf("%s: stage must be GA, BETA or ALPHA", name)
	case len(r.IncludedPermissions) == 0:
		return nil, fmt.Errorf("%s: includedPermissions is empty", name)
	}
	return &r, nil
}

// Embedded returns the embedded role file of stem (responder,
// responder-sandbox, …).
func Embedded(stem string) (*Role, error) {
	b, err := files.ReadFile(stem + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no role file deploy/roles/%s.yaml: %w", stem, err)
	}
	return Parse("deploy/roles/"+stem+".yaml", b)
}
