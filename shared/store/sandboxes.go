package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Fleet is the trusted sandbox registry: one document per sandbox coopguard
// built or adopted, addressed by (project, name). Only the provisioner job
// writes it, when a converge builds or adopts a sandbox; no sandbox
// account holds a Firestore role, so nothing a sandbox can write decides
// which sandbox an audit entry concerns. A sandbox is never removed
// silently: nothing here deletes a document.
const Fleet = "fleet"

// FleetMeta holds the registry's generation document (FleetGeneration):
// a counter every registry write raises in the same transaction, so a
// reader's cache knows with one keyed read whether anything changed.
const FleetMeta = "fleetMeta"

// fleetGenerationDoc is FleetMeta's one document.
const fleetGenerationDoc = "generation"

// Registered is one sandbox of the registry.
type Registered struct {
	// Project, Zone and Name address the sandbox's VM.
	Project string `firestore:"project"`
	Zone    string `firestore:"zone"`
	Name    string `firestore:"name"`
	// InstanceID is the VM's numeric id, "" until the converge that
	// builds it has finished.
	InstanceID string `firestore:"instanceId"`
	// ServiceAccount is the sandbox's own account: the principal whose
	// calls are judged against this sandbox.
	ServiceAccount string `firestore:"serviceAccount"`
	// Network is the name of the network its VM is on.
	Network string `firestore:"network"`
	// Secrets are its managed secrets, Canary its decoy ("" when off).
	Secrets []string `firestore:"secrets"`
	Canary  string   `firestore:"canary"`
	// Adopted is true for a VM coopguard adopted instead of building.
	Adopted bool `firestore:"adopted"`
	// UpdatedAt is when a converge last recorded it.
	UpdatedAt time.Time `firestore:"updatedAt"`
}

// Key is the sandbox's address, "<project>/<name>".
func (r Registered) Key() string { return r.Project + "/" + r.Name }

// fleetDoc is the registry document id of the sandbox (project, name):
// neither a project id nor an instance name contains "~".
func fleetDoc(project, name string) string { return project + "~" + name }

// RegisterSandbox records r (the provisioner job's converge, only):
// recording it again replaces it; an instance id already known is kept
// when r carries none (a later converge's record before it builds).
func (s *Store) RegisterSandbox(ctx context.Context, r Registered) error {
	if r.Project == "" || r.Name == "" || r.Zone == "" || r.ServiceAccount == "" ||
		strings.ContainsAny(r.Project+r.Name, "/~") {
		return fmt.Errorf("record sandbox %q in project %q: project, zone, name and service account are required, without / or ~", r.Name, r.Project)
	}
	r.UpdatedAt = s.now()
	ref := s.fs.Collection(Fleet).Doc(fleetDoc(r.Project, r.Name))
	gen := s.fs.Collection(FleetMeta).Doc(fleetGenerationDoc)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		if err == nil && r.InstanceID == "" {
			var old Registered
			if err := snap.DataTo(&old); err != nil {
				return err
			}
			r.InstanceID = old.InstanceID
		}
		if err := tx.Set(ref, r); err != nil {
			return err
		}
		return tx.Set(gen, map[string]any{"n": firestore.Increment(1), "updatedAt": r.UpdatedAt}, firestore.MergeAll)
	})
	if err != nil {
		return fmt.Errorf("record sandbox %s in the sandbox registry: %w", r.Key(), err)
	}
	return nil
}

// FleetGeneration is the registry's generation: it changes whenever a
// sandbox is recorded (0 before the first).
func (s *Store) FleetGeneration(ctx context.Context) (int64, error) {
	snap, err := s.fs.Collection(FleetMeta).Doc(fleetGenerationDoc).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the sandbox registry's generation: %w", err)
	}
	n, _ := snap.Data()["n"].(int64)
	return n, nil
}

// SandboxOfAccount returns the sandbox whose own account is account, and
// false when none is recorded: one indexed lookup, whatever the fleet's
// size.
func (s *Store) SandboxOfAccount(ctx context.Context, account string) (Registered, bool, error) {
	out, err := s.sandboxes(ctx, s.fs.Collection(Fleet).Where("serviceAccount", "==", account).Limit(2))
	if err != nil {
		return Registered{}, false, fmt.Errorf("look up the sandbox of account %s: %w", account, err)
	}
	switch len(out) {
	case 0:
		return Registered{}, false, nil
	case 1:
		return out[0], true, nil
	}
	return Registered{}, false, fmt.Errorf("look up the sandbox of account %s: sandboxes %s and %s both run as it; each sandbox has its own account (re-provision one of them)", account, out[0].Key(), out[1].Key())
}

// SandboxesIn returns the sandboxes recorded in project, by name: one
// indexed query.
func (s *Store) SandboxesIn(ctx context.Context, project string) ([]Registered, error) {
	out, err := s.sandboxes(ctx, s.fs.Collection(Fleet).Where("project", "==", project))
	if err != nil {
		return nil, fmt.Errorf("list the sandboxes of project %s: %w", project, err)
	}
	return out, nil
}

// Sandboxes returns every recorded sandbox, by project then name (the
// fleet views; detection never lists them).
func (s *Store) Sandboxes(ctx context.Context) ([]Registered, error) {
	out, err := s.sandboxes(ctx, s.fs.Collection(Fleet).Query)
	if err != nil {
		return nil, fmt.Errorf("list the sandbox registry: %w", err)
	}
	return out, nil
}

func (s *Store) sandboxes(ctx context.Context, q firestore.Query) ([]Registered, error) {
	it := q.Documents(ctx)
	defer it.Stop()
	var out []Registered
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			slices.SortFunc(out, func(a, b Registered) int {
				return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Name, b.Name))
			})
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var r Registered
		if err := snap.DataTo(&r); err != nil {
			return nil, fmt.Errorf("document %s: %w", snap.Ref.ID, err)
		}
		out = append(out, r)
	}
}
