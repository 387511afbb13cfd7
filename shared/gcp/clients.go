// Package gcp builds the set of official Cloud client libraries that every
// coopguard function and the provisioner receive. The same set talks to real
// GCP (Application Default Credentials) or, with Emulated options, to the
// emulated GCP on loopback.
package gcp

import (
	"context"
	"errors"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	logging "cloud.google.com/go/logging/apiv2"
	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/pubsub/v2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options are extra client options per service (endpoints, credentials).
type Options struct {
	Compute       []option.ClientOption
	SecretManager []option.ClientOption
	Monitoring    []option.ClientOption
	Logging       []option.ClientOption
	PubSub        []option.ClientOption
}

// Emulated returns options that point every client at the emulated GCP:
// computeURL is the Compute REST fake's base URL, grpcAddr the host:port
// serving Secret Manager, Monitoring and Logging, pubsubAddr pstest's.
func Emulated(computeURL, grpcAddr, pubsubAddr string) Options {
	grpcOpts := func(addr string) []option.ClientOption {
		return []option.ClientOption{
			option.WithEndpoint(addr),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithTelemetryDisabled(),
		}
	}
	return Options{
		Compute:       []option.ClientOption{option.WithEndpoint(computeURL), option.WithoutAuthentication(), option.WithTelemetryDisabled()},
		SecretManager: grpcOpts(grpcAddr),
		Monitoring:    grpcOpts(grpcAddr),
		Logging:       grpcOpts(grpcAddr),
		PubSub:        grpcOpts(pubsubAddr),
	}
}

// Clients is the set of GCP clients coopguard uses. Close releases them.
type Clients struct {
	Project string

	Instances   *compute.InstancesClient
	Disks       *compute.DisksClient
	Snapshots   *compute.SnapshotsClient
	Networks    *compute.NetworksClient
	Subnetworks *compute.SubnetworksClient
	Firewalls   *compute.FirewallsClient
	Routers     *compute.RoutersClient

	Secrets *secretmanager.Client

	AlertPolicies *monitoring.AlertPolicyClient
	Channels      *monitoring.NotificationChannelClient
	Metrics       *monitoring.MetricClient

	Logging   *logging.Client
	LogConfig *logging.ConfigClient

	PubSub *pubsub.Client

	closers []func() error
}

// New dials every client for project. On error the clients made so far are
// closed.
func New(ctx context.Context, project string, o Options) (_ *Clients, err error) {
	if project == "" {
		return nil, errors.New("gcp.New: project is empty: set cloud.gcp.project")
	}
	c := &Clients{Project: project}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	var errs []error
	dial(&errs, c, "compute instances", &c.Instances, func() (*compute.InstancesClient, error) { return compute.NewInstancesRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute disks", &c.Disks, func() (*compute.DisksClient, error) { return compute.NewDisksRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute snapshots", &c.Snapshots, func() (*compute.SnapshotsClient, error) { return compute.NewSnapshotsRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute networks", &c.Networks, func() (*compute.NetworksClient, error) { return compute.NewNetworksRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute subnetworks", &c.Subnetworks, func() (*compute.SubnetworksClient, error) { return compute.NewSubnetworksRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute firewalls", &c.Firewalls, func() (*compute.FirewallsClient, error) { return compute.NewFirewallsRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute routers", &c.Routers, func() (*compute.RoutersClient, error) { return compute.NewRoutersRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "secret manager", &c.Secrets, func() (*secretmanager.Client, error) { return secretmanager.NewClient(ctx, o.SecretManager...) })
	dial(&errs, c, "monitoring alert policies", &c.AlertPolicies, func() (*monitoring.AlertPolicyClient, error) {
		return monitoring.NewAlertPolicyClient(ctx, o.Monitoring...)
	})
	dial(&errs, c, "monitoring notification channels", &c.Channels, func() (*monitoring.NotificationChannelClient, error) {
		return monitoring.NewNotificationChannelClient(ctx, o.Monitoring...)
	})
	dial(&errs, c, "monitoring metrics", &c.Metrics, func() (*monitoring.MetricClient, error) { return monitoring.NewMetricClient(ctx, o.Monitoring...) })
	dial(&errs, c, "logging", &c.Logging, func() (*logging.Client, error) { return logging.NewClient(ctx, o.Logging...) })
	dial(&errs, c, "logging config", &c.LogConfig, func() (*logging.ConfigClient, error) { return logging.NewConfigClient(ctx, o.Logging...) })
	dial(&errs, c, "pubsub", &c.PubSub, func() (*pubsub.Client, error) { return pubsub.NewClient(ctx, project, o.PubSub...) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Close closes every client and returns their errors joined.
func (c *Clients) Close() error {
	var errs []error
	for _, f := range c.closers {
		errs = append(errs, f())
	}
	c.closers = nil
	return errors.Join(errs...)
}

// dial makes one client, stores it in dst and registers it for Close; a
// failure is appended to errs naming the client.
func dial[T interface{ Close() error }](errs *[]error, c *Clients, name string, dst *T, fn func() (T, error)) {
	if len(*errs) > 0 {
		return
	}
	v, err := fn()
	if err != nil {
		*errs = append(*errs, fmt.Errorf("gcp.New: %s client: %w", name, err))
		return
	}
	*dst = v
	c.closers = append(c.closers, v.Close)
}

// Wait returns a function that waits for the Compute operation of a call
// that returned op, err; it reads as gcp.Wait(ctx)(client.Insert(...)).
// An operation that ends in error returns that error.
func Wait(ctx context.Context) func(op *compute.Operation, err error) error {
	return func(op *compute.Operation, err error) error {
		if err != nil {
			return err
		}
		return op.Wait(ctx)
	}
}
