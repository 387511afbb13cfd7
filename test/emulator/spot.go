package emulator

import (
	"context"
	"fmt"
	"strconv"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/compute"
)

// SystemEventLog is the log of System Event audit entries: what Google
// Cloud does by itself, such as a preemption
// (https://cloud.google.com/logging/docs/audit#system-event).
const SystemEventLog = "cloudaudit.googleapis.com%2Fsystem_event"

// PreemptionPrincipal is the principalEmail of a preemption's audit entry:
// Google, not an account of the project.
const PreemptionPrincipal = "system@google.com"

// Preempt reclaims a RUNNING Spot VM as GCP does (compute.Server.Preempt)
// and writes the System Event audit entry GCP writes for it: methodName
// compute.instances.preempted by system@google.com on the gce_instance,
// status message "Instance was preempted.", severity INFO
// (https://cloud.google.com/compute/docs/instances/create-use-spot#detect-preemption,
// https://cloud.google.com/compute/docs/logging/audit-logging). System
// Event entries cannot be turned off, so the project's sinks see it.
func (e *Emulator) Preempt(ctx context.Context, project, zone, name string) error {
	inst, err := e.Compute.Preempt(project, zone, name)
	if err != nil {
		return err
	}
	payload := &auditpb.AuditLog{
		ServiceName:        "compute.googleapis.com",
		MethodName:         compute.PreemptedMethod,
		ResourceName:       "projects/" + project + "/zones/" + zone + "/instances/" + name,
		AuthenticationInfo: &auditpb.AuthenticationInfo{PrincipalEmail: PreemptionPrincipal},
		Status:             &rpcstatus.Status{Message: "Instance was preempted."},
		Request: &structpb.Struct{Fields: map[string]*structpb.Value{
			"@type": structpb.NewStringValue("type.googleapis.com/" + compute.PreemptedMethod),
		}},
	}
	anyPayload, err := anypb.New(payload)
	if err != nil {
		return fmt.Errorf("emulator: preemption entry: %w", err)
	}
	now := e.Clock.Now()
	id := strconv.FormatUint(inst.GetId(), 10)
	e.Gate.Write(ctx, &loggingpb.LogEntry{
		LogName: "projects/" + project + "/logs/" + SystemEventLog,
		Resource: &monitoredres.MonitoredResource{Type: "gce_instance", Labels: map[string]string{
			"project_id": project, "zone": zone, "instance_id": id,
		}},
		Payload:          &loggingpb.LogEntry_ProtoPayload{ProtoPayload: anyPayload},
		Timestamp:        timestamppb.New(now),
		ReceiveTimestamp: timestamppb.New(now),
		Severity:         ltype.LogSeverity_INFO,
		InsertId:         fmt.Sprintf("preempted-%s-%d", id, now.UnixNano()),
		Operation: &loggingpb.LogEntryOperation{
			Id: fmt.Sprintf("systemevent-%d-%s", now.UnixMilli(), id), Producer: compute.PreemptedMethod, First: true, Last: true,
		},
	})
	return nil
}
