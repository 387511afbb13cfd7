package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"

	"cloud.google.com/go/compute/metadata"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// VM is the view from inside one emulated VM: what software on it gets
// from its metadata server.
type VM struct {
	// MetadataHost is the VM's metadata server, the value
	// GCE_METADATA_HOST takes on the VM.
	MetadataHost string
	client       *metadata.Client
	emu          *Emulator
	project      string
}

// OpenVM starts the metadata server of the VM project/zone/name (stopped
// with the emulator) and returns the view from the VM.
func (e *Emulator) OpenVM(project, zone, name string) *VM {
	addr := e.MetadataServer(project, zone, name)
	// The official metadata client, every connection going to this VM's
	// server, as 169.254.169.254 goes to the real one.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	return &VM{MetadataHost: addr, client: metadata.NewWithOptions(&metadata.Options{Client: hc}), emu: e, project: project}
}

// Token returns the access token of the VM's attached service account,
// as software on the VM gets it: GET
// instance/service-accounts/default/token from the metadata server.
func (v *VM) Token(ctx context.Context) (string, error) {
	raw, err := v.client.GetWithContext(ctx, "instance/service-accounts/default/token")
	if err != nil {
		return "", fmt.Errorf("emulator: the VM's metadata server gave no token: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(raw), &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("emulator: the VM's metadata server answered no access_token (%v)", err)
	}
	return tok.AccessToken, nil
}

// Clients dials the client set the VM's software uses: every call carries
// the token the metadata server handed out, so its audit entry records
// the VM's network as where it came from. Close them when done.
func (v *VM) Clients(ctx context.Context) (*gcp.Clients, error) {
	tok, err := v.Token(ctx)
	if err != nil {
		return nil, err
	}
	o := v.emu.OptionsAs("")
	o.Token = tok
	return gcp.New(ctx, v.project, o)
}
