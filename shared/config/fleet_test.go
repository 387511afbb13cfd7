package config

import (
	"errors"
	"strings"
	"testing"
)

func TestFleetValidation(t *testing.T) {
	const folder, billing = "folders/123456789012", "billingAccounts/0A1B2C-3D4E5F-6A7B8C"
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // substrings of the error; none for valid
	}{
		{"off by default", nil, nil},
		{"both", map[string]string{"COOPGUARD_FLEET_FOLDER": folder, "COOPGUARD_FLEET_BILLING_ACCOUNT": billing}, nil},
		{"folder without billing", map[string]string{"COOPGUARD_FLEET_FOLDER": folder}, []string{"coopguard.fleet.billing_account", "gcloud billing accounts list"}},
		{"billing without folder", map[string]string{"COOPGUARD_FLEET_BILLING_ACCOUNT": billing}, []string{"coopguard.fleet.folder", "folders/NUMBER"}},
		{"folder by display name", map[string]string{"COOPGUARD_FLEET_FOLDER": "sandboxes", "COOPGUARD_FLEET_BILLING_ACCOUNT": billing}, []string{"coopguard.fleet.folder", `"sandboxes" is not a folder name`, "not its display name"}},
		{"folder not a number", map[string]string{"COOPGUARD_FLEET_FOLDER": "folders/abc", "COOPGUARD_FLEET_BILLING_ACCOUNT": billing}, []string{"coopguard.fleet.folder"}},
		{"billing id without prefix", map[string]string{"COOPGUARD_FLEET_FOLDER": folder, "COOPGUARD_FLEET_BILLING_ACCOUNT": "0A1B2C-3D4E5F-6A7B8C"}, []string{"coopguard.fleet.billing_account", "is not a billing account name"}},
		{"billing id lowercase", map[string]string{"COOPGUARD_FLEET_FOLDER": folder, "COOPGUARD_FLEET_BILLING_ACCOUNT": "billingAccounts/0a1b2c-3d4e5f-6a7b8c"}, []string{"coopguard.fleet.billing_account"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromBase(Demo(), mapLookup(tt.env))
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := c.Coopguard.Fleet.CreatesProjects(), tt.env != nil; got != want {
					t.Errorf("CreatesProjects = %v, want %v", got, want)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to say %q", err, w)
				}
			}
		})
	}
}
