package provisioner_test

import (
	"context"
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
)

// TestConvergeRepairsTamperedSink: a detection sink whose filter or
// destination someone changed, or which someone disabled, is put back by
// the next converge, keeping its unique writer identity. The emulated
// Logging refuses an update of such a sink that does not send
// uniqueWriterIdentity again, as the reference says, so this fails if the
// repair leaves it out.
func TestConvergeRepairsTamperedSink(t *testing.T) {
	tests := []struct {
		name   string
		tamper *loggingpb.LogSink
		paths  []string
	}{
		{"filter changed", &loggingpb.LogSink{Filter: `severity>=EMERGENCY`}, []string{"filter"}},
		{"destination changed", &loggingpb.LogSink{Destination: "pubsub.googleapis.com/projects/elsewhere/topics/void"}, []string{"destination"}},
		{"disabled", &loggingpb.LogSink{Disabled: true}, []string{"disabled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, p := setup(t)
			ctx := context.Background()
			if _, err := p.Converge(ctx, provisioner.Options{}); err != nil {
				t.Fatal(err)
			}
			cfg := config.Demo()
			project := cfg.Cloud.GCP.Project
			sb, err := provisioner.NewSandbox(&cfg, "", "")
			if err != nil {
				t.Fatal(err)
			}
			name := "projects/" + project + "/sinks/" + sb.Sink()
			op, err := emu.Clients(ctx, project)
			if err != nil {
				t.Fatal(err)
			}
			defer op.Close()
			want, err := op.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: name})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := op.LogConfig.UpdateSink(ctx, &loggingpb.UpdateSinkRequest{SinkName: name, Sink: tt.tamper,
				UpdateMask: &fieldmaskpb.FieldMask{Paths: tt.paths}, UniqueWriterIdentity: true}); err != nil {
				t.Fatal(err)
			}

			rep, err := p.Converge(ctx, provisioner.Options{})
			if err != nil {
				t.Fatal(err)
			}
			repaired := false
			for _, r := range rep.Resources {
				repaired = repaired || (r.Kind == "logSink" && r.Action == provisioner.Update)
			}
			if !repaired {
				t.Errorf("converge did not report the sink repaired: %+v", rep.Resources)
			}
			got, err := op.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: name})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetFilter() != want.GetFilter() || got.GetDestination() != want.GetDestination() || got.GetDisabled() ||
				got.GetWriterIdentity() != want.GetWriterIdentity() {
				t.Errorf("after converge sink = %v, want %v", got, want)
			}
		})
	}
}
