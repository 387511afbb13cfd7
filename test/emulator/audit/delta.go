package audit

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cloudcoop/coopguard/test/emulator/audit/detail"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
)

// addDetail copies into a successful call's entry what GCP writes beyond
// the common fields: the fake's serviceData (an IAM policy delta) and
// metadata, or the metadata the gate computed (a Compute metadata delta).
// A refused or failed call changed nothing, so it carries no delta.
func addDetail(p *auditpb.AuditLog, c *call, st *rpcstatus.Status) {
	if st != nil && st.GetCode() != int32(code.Code_OK) {
		return
	}
	if c.detail != nil {
		//lint:ignore SA1019 deprecated in the proto, yet what IAM still writes for SetIamPolicy (policyDelta), and what detections read
		p.ServiceData = c.detail.ServiceData()
		p.Metadata = c.detail.Metadata()
	}
	if c.metadata != nil {
		p.Metadata = c.metadata
	}
}

// metadataDelta is the metadata Compute Engine writes in the audit entry
// of instances.setMetadata: protoPayload.metadata.instanceMetadataDelta
// with the keys added, modified and deleted
// (https://stratus-red-team.cloud/attack-techniques/GCP/gcp.lateral-movement.add-sshkey-instance-metadata/).
// nil for other methods or an instance the fake does not have.
func metadataDelta(fake ComputeFake, rt compute.Route, body []byte) *structpb.Struct {
	if rt.Method != "compute.instances.setMetadata" {
		return nil
	}
	inst, ok := fake.Instance(rt.Project, rt.Loc, rt.Name)
	if !ok {
		return nil
	}
	var md computepb.Metadata
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &md); err != nil {
		return nil
	}
	return detail.MetadataDelta("instanceMetadataDelta", items(inst.GetMetadata()), items(&md))
}

func items(m *computepb.Metadata) map[string]string {
	out := map[string]string{}
	for _, it := range m.GetItems() {
		out[it.GetKey()] = it.GetValue()
	}
	return out
}

// requestOf is the call's protoPayload.request: for every Compute method
// that changes something (Admin Activity), the request body's fields and
// "@type": "type.googleapis.com/compute.<coll>.<verb>", as Compute writes
// it (https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog,
// https://cloud.google.com/compute/docs/logging/audit-logging); a method
// without a body (stop, delete) carries the "@type" alone. Metadata item
// values are left out (keys kept): they may hold a startup script or a
// key, and the keys are what detections read (instanceMetadataDelta
// names only keys too). nil for reads.
func requestOf(rt compute.Route, body []byte) *structpb.Struct {
	if row, ok := REST[rt.Method]; !ok || row.Type != AdminWrite {
		return nil
	}
	req := &structpb.Struct{}
	if len(body) == 0 || protojson.Unmarshal(body, req) != nil {
		req = &structpb.Struct{Fields: map[string]*structpb.Value{}}
	}
	if req.Fields == nil {
		req.Fields = map[string]*structpb.Value{}
	}
	// The body of setMetadata and setCommonInstanceMetadata is the
	// Metadata itself; instances.insert nests it.
	dropItemValues(req)
	if md := req.Fields["metadata"].GetStructValue(); md != nil {
		dropItemValues(md)
	}
	req.Fields["@type"] = structpb.NewStringValue("type.googleapis.com/" + rt.Method)
	return req
}

// dropItemValues removes "value" from each of a Metadata's items.
func dropItemValues(md *structpb.Struct) {
	for _, it := range md.GetFields()["items"].GetListValue().GetValues() {
		if f := it.GetStructValue().GetFields(); f != nil {
			delete(f, "value")
		}
	}
}
