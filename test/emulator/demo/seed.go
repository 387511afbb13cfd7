// Package demo prepares an emulated GCP project so that the
// posture checks pass: what `coopguard provision` does not build and a
// real project would already have — the project IAM policy (audit logs on,
// least-privilege grants for the sandbox's service account) and
// coopguard's functions deployed as Cloud Run services that require
// authentication, and Docker images scanned for vulnerabilities. Tests use
// it, and so does `coopguard serve`'s demo.
package demo

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/eventarc"
)

// SandboxRoles are the project-level roles the sandbox's service account
// holds: writing its logs and metrics. It reads its secrets through
// bindings on each secret, which Provision makes, never through a
// project-wide Secret Manager role (posture fails that).
var SandboxRoles = []string{
	"roles/logging.logWriter",
	"roles/monitoring.metricWriter",
}

// DemoRepository is the Docker repository of the demo project, which has
// vulnerability scanning active.
const DemoRepository = "sandbox-images"

// Invoker is the principal deploy lets call coopguard's functions
// (deploy/lib.sh SA_INVOKER).
func Invoker(project string) string {
	return "serviceAccount:coopguard-invoker@" + project + ".iam.gserviceaccount.com"
}

// SeedDemoPosture seeds cfg's project on emu: a project IAM policy with
// allServices ADMIN_READ and DATA_WRITE audit logs, SandboxRoles for the
// sandbox's service account and an owner who is a person; and every
// posture.Services function deployed in the sandbox's region, callable by
// Invoker only. After `coopguard provision` every posture check passes.
func SeedDemoPosture(emu *emulator.Emulator, cfg *config.Config) {
	project := cfg.Cloud.GCP.Project
	sa := "serviceAccount:" + cfg.Cloud.GCP.ServiceAccount
	pol := &iampb.Policy{
		Version: 1,
		Bindings: []*iampb.Binding{
			{Role: "roles/owner", Members: []string{"user:owner@example.com"}},
		},
		AuditConfigs: []*iampb.AuditConfig{{
			Service: "allServices",
			AuditLogConfigs: []*iampb.AuditLogConfig{
				{LogType: iampb.AuditLogConfig_ADMIN_READ},
				{LogType: iampb.AuditLogConfig_DATA_WRITE},
			},
		}, {
			// What Provision turns on for the detection rules.
			Service:         "secretmanager.googleapis.com",
			AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ}},
		}},
	}
	// Keep what is already granted (deploy's bindings).
	if old, ok := emu.ResourceManager.Policy(project); ok {
		pol.Bindings = append(pol.Bindings, old.GetBindings()...)
		// Deploy's conditional bindings need version 3.
		pol.Version = max(pol.Version, old.GetVersion())
	}
	for _, r := range SandboxRoles {
		held := slices.ContainsFunc(pol.Bindings, func(b *iampb.Binding) bool {
			return b.GetRole() == r && b.GetCondition() == nil && slices.Contains(b.GetMembers(), sa)
		})
		if !held {
			pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: r, Members: []string{sa}})
		}
	}
	emu.ResourceManager.SetPolicy(project, pol)
	for _, name := range posture.Services {
		emu.Run.SeedService(project, cfg.Region(), name, []string{Invoker(project)})
	}
	// The functions' Eventarc triggers: one subscription each on the logs
	// and alerts topics, as deploy's triggers make (the bridge of
	// `coopguard serve` makes the same names).
	for topic, fn := range map[string]string{cfg.Coopguard.Topics.Logs: "/HandleLogEntry", cfg.Coopguard.Topics.Alerts: "/HandleAlert"} {
		path := "projects/" + project + "/topics/" + topic
		ctx := context.Background()
		if _, err := emu.PubSub.GServer.CreateTopic(ctx, &pubsubpb.Topic{Name: path, Labels: map[string]string{"coopguard": "true"}}); err != nil && status.Code(err) != codes.AlreadyExists {
			panic(fmt.Sprintf("posturetest: create topic %s: %v", path, err))
		}
		sub := "projects/" + project + "/subscriptions/" + eventarc.SubscriptionID(topic, fn)
		if _, err := emu.PubSub.GServer.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: path, AckDeadlineSeconds: 600}); err != nil && status.Code(err) != codes.AlreadyExists {
			panic(fmt.Sprintf("posturetest: create subscription %s: %v", sub, err))
		}
	}
	// Images are scanned: the API on and a Docker repository inheriting it.
	emu.ServiceUsage.Enable(project, posture.ScanningAPI, true)
	emu.ArtifactRegistry.SeedRepository(project, cfg.Region(), DemoRepository,
		artifactregistrypb.Repository_DOCKER, artifactregistrypb.Repository_VulnerabilityScanningConfig_INHERITED)
}
