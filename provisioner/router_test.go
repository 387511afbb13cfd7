package provisioner_test

import (
	"context"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestNATLogging pins that the Cloud NAT logs as [coopguard.evidence]
// nat_logs says, that changing the setting changes only the NAT's
// logConfig on the next converge, and that converging again changes
// nothing.
func TestNATLogging(t *testing.T) {
	tests := []struct {
		first, then string
		enable      bool
		filter      string
	}{
		{config.NATLogsAll, config.NATLogsErrors, true, "ERRORS_ONLY"},
		{config.NATLogsErrors, config.NATLogsOff, false, ""},
		{config.NATLogsOff, config.NATLogsAll, true, "ALL"},
	}
	for _, tt := range tests {
		t.Run(tt.first+"→"+tt.then, func(t *testing.T) {
			ctx := context.Background()
			emu, err := emulator.Start()
			if err != nil {
				t.Fatal(err)
			}
			defer emu.Close()
			cfg := config.Demo()
			if err := emu.DeployConfig(&cfg); err != nil {
				t.Fatal(err)
			}
			clients, err := emu.ClientsAs(ctx, cfg.Cloud.GCP.Project, emulator.Provisioner(cfg.Cloud.GCP.Project))
			if err != nil {
				t.Fatal(err)
			}
			defer clients.Close()
			converge := func(setting string) *provisioner.Report {
				t.Helper()
				c := cfg
				c.Coopguard.Evidence.NATLogs = setting
				rep, err := provisioner.New(&c, clients, func(*provisioner.Sandbox) string { return `logName:"cloudaudit.googleapis.com"` }).Converge(ctx, provisioner.Options{})
				if err != nil {
					t.Fatal(err)
				}
				return rep
			}
			sb, err := provisioner.NewSandbox(&cfg, "", "")
			if err != nil {
				t.Fatal(err)
			}
			natOf := func() *computepb.RouterNat {
				t.Helper()
				rt, err := clients.Routers.Get(ctx, &computepb.GetRouterRequest{Project: cfg.Cloud.GCP.Project, Region: cfg.Region(), Router: sb.Router()})
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range rt.GetNats() {
					if n.GetName() == sb.NAT() {
						return n
					}
				}
				t.Fatalf("router %s has no NAT %s", sb.Router(), sb.NAT())
				return nil
			}
			converge(tt.first)
			before := natOf()
			rep := converge(tt.then)
			updated := false
			for _, r := range rep.Resources {
				if r.Kind == "router" {
					updated = r.Action == provisioner.Update
				} else if r.Action != provisioner.None {
					t.Errorf("changing nat_logs changed %s/%s (%s)", r.Kind, r.Name, r.Action)
				}
			}
			if !updated {
				t.Errorf("changing nat_logs %s → %s did not update the router", tt.first, tt.then)
			}
			got := natOf()
			if got.GetLogConfig().GetEnable() != tt.enable || got.GetLogConfig().GetFilter() != tt.filter {
				t.Errorf("logConfig = %v, want enable %v filter %q", got.GetLogConfig(), tt.enable, tt.filter)
			}
			// The repair writes back the NAT as read, server-filled
			// fields included (type, endpointTypes, autoNetworkTier,
			// effectiveTcpTimeWaitTimeoutSec), and changes only its logging.
			want := proto.Clone(before).(*computepb.RouterNat)
			want.LogConfig = got.GetLogConfig()
			if !proto.Equal(got, want) {
				t.Errorf("the NAT changed beyond its logging: %v → %v", before, got)
			}
			for _, r := range converge(tt.then).Resources {
				if r.Action != provisioner.None {
					t.Errorf("third converge: %s/%s %s", r.Kind, r.Name, r.Action)
				}
			}
		})
	}
}
