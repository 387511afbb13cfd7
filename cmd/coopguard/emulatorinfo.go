package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// emulatorInfo is where the embedded emulated GCP of `coopguard serve`
// listens and who may act there: enough to point gcloud and any official
// client at it (GET /EmulatorInfo).
type emulatorInfo struct {
	Project string `json:"project"`
	// ComputeEndpoint is the Compute Engine REST base, as gcloud's
	// api_endpoint_overrides/compute takes it.
	ComputeEndpoint string `json:"computeEndpoint"`
	// LoggingEndpoint is Cloud Logging's REST base, as gcloud's
	// api_endpoint_overrides/logging takes it.
	LoggingEndpoint string `json:"loggingEndpoint"`
	// GRPC serves Secret Manager, Cloud Monitoring, Cloud Logging, Resource
	// Manager, Cloud Run and IAM; PubSub is PUBSUB_EMULATOR_HOST.
	GRPC   string `json:"grpc"`
	PubSub string `json:"pubsub"`
	// MetadataServer is the sandbox VM's metadata server (GCE_METADATA_HOST).
	MetadataServer string `json:"metadataServer"`
	// AnthropicAdminAPI is the emulated Anthropic Admin API's base URL,
	// where [coopguard.revoke] provider "anthropic" revokes on the
	// emulated project.
	AnthropicAdminAPI string `json:"anthropicAdminAPI"`
	// Principals are the identities of the emulated project, and Token
	// how to act as one: an OAuth access token "emulated:<email>", whose
	// calls come from outside Google Cloud (a VM's own calls use the
	// token its metadata server hands out).
	Principals map[string]string `json:"principals"`
	Token      string            `json:"token"`
	// GcloudConfigs are ready gcloud configuration directories, one per
	// principal (CLOUDSDK_CONFIG): project, endpoints and that principal's
	// access token set, the user's own gcloud configuration untouched.
	GcloudConfigs map[string]string `json:"gcloudConfigs"`
}

// writeGcloudConfigs makes one gcloud configuration directory per
// principal under dir.
func (i *emulatorInfo) writeGcloudConfigs(dir string) error {
	i.GcloudConfigs = map[string]string{}
	for who, email := range i.Principals {
		d := filepath.Join(dir, "gcloud-"+who)
		if err := os.MkdirAll(filepath.Join(d, "configurations"), 0o700); err != nil {
			return err
		}
		token := filepath.Join(d, "access-token")
		if err := os.WriteFile(token, []byte(gcp.EmulatedToken(email)), 0o600); err != nil {
			return err
		}
		props := fmt.Sprintf("[core]\nproject = %s\ndisable_usage_reporting = true\n\n[auth]\naccess_token_file = %s\n\n[api_endpoint_overrides]\ncompute = %s\nlogging = %s\n",
			i.Project, token, i.ComputeEndpoint, i.LoggingEndpoint)
		if err := os.WriteFile(filepath.Join(d, "configurations", "config_default"), []byte(props), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "active_config"), []byte("default"), 0o600); err != nil {
			return err
		}
		i.GcloudConfigs[who] = d
	}
	return nil
}

func newEmulatorInfo(emu *emulator.Emulator, cfg *config.Config) *emulatorInfo {
	p := cfg.Cloud.GCP.Project
	return &emulatorInfo{
		Project:           p,
		ComputeEndpoint:   emu.ComputeURL + "/compute/v1/",
		LoggingEndpoint:   emu.RESTURL + "/",
		GRPC:              emu.GRPCAddr,
		PubSub:            emu.PubSubAddr,
		MetadataServer:    emu.MetadataServer(p, cfg.Cloud.GCP.Zone, cfg.VM.Name),
		AnthropicAdminAPI: emu.AnthropicURL,
		Principals:        principals(cfg),
		Token:             gcp.EmulatedToken("<email>"),
	}
}

// principals are the identities of the emulated project: the operator,
// each coopguard job's account (by its id without "coopguard-") and the
// sandbox's.
func principals(cfg *config.Config) map[string]string {
	p := cfg.Cloud.GCP.Project
	out := map[string]string{"operator": emulator.Operator, "sandbox": cfg.Cloud.GCP.ServiceAccount}
	for _, a := range config.Accounts {
		out[strings.TrimPrefix(a, "coopguard-")] = config.AccountEmail(a, p)
	}
	return out
}

// print writes the endpoints and the gcloud set-up for them.
func (i *emulatorInfo) print(w io.Writer, addr string) {
	fmt.Fprintf(w, "  emulated GCP (also GET http://%s/EmulatorInfo):\n", addr)
	fmt.Fprintf(w, "    logging REST   %s\n", i.LoggingEndpoint)
	fmt.Fprintf(w, "    compute REST   %s\n    gRPC           %s  (Secret Manager, Monitoring, Logging, Resource Manager, Cloud Run)\n", i.ComputeEndpoint, i.GRPC)
	fmt.Fprintf(w, "    pubsub         %s  (PUBSUB_EMULATOR_HOST)\n    metadata       %s  (GCE_METADATA_HOST of %s)\n", i.PubSub, i.MetadataServer, "the sandbox VM")
	fmt.Fprintf(w, "    act as anyone: access token \"%s\" (operator %s, sandbox %s)\n", i.Token, i.Principals["operator"], i.Principals["sandbox"])
	fmt.Fprintf(w, "    gcloud as the operator: export CLOUDSDK_CONFIG=%s  (as the sandbox's account: %s)\n", i.GcloudConfigs["operator"], i.GcloudConfigs["sandbox"])
}

// serve is EmulatorInfo: it answers GET with the emulated GCP's endpoints
// as JSON; with ?gcloud=<principal> (operator, sandbox, responder,
// provisioner) it answers the path of that principal's gcloud
// configuration directory, for `export CLOUDSDK_CONFIG=$(curl -s …)`. A
// serve on real GCP has no such route (404).
func (i *emulatorInfo) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "EmulatorInfo answers GET only", http.StatusMethodNotAllowed)
		return
	}
	if who := r.URL.Query().Get("gcloud"); who != "" {
		d, ok := i.GcloudConfigs[who]
		if !ok {
			http.Error(w, "no gcloud configuration for "+who+": use operator, sandbox, responder or provisioner", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, d)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(i)
}
