package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/rotation"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// runRotate runs the rotation policy once.
//
// With --config it runs in this process on that project and prints what it
// found and did, secret by secret and version by version. Without, it asks
// the coopguard server to run: it POSTs to /RotateKeys the CloudEvent a
// Cloud Scheduler job would cause (binary mode, a Pub/Sub envelope with
// attribute coopguard-job=rotate-keys and body {"reason":"cli","dryRun":…}),
// then reads /Status and prints the versions, their ages and what is due.
// A CloudEvent function answers only success or failure, so in server mode
// the per-action detail is in the server's log.
func runRotate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("rotate", flag.ContinueOnError)
	var t target
	t.flags(fs)
	dryRun := fs.Bool("dry-run", false, "report what is due and what would be done; change nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON (with --config)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !t.direct() {
		return rotateRemote(ctx, &t, *dryRun, stdout)
	}
	e, err := t.env(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	rep, runErr := functions.RunRotation(ctx, e, rotation.Options{DryRun: *dryRun, Trigger: "cli"})
	if *asJSON {
		if err := printJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		printRotationReport(stdout, rep)
	}
	if runErr != nil {
		return fmt.Errorf("rotation incomplete (run it again once fixed): %w", runErr)
	}
	return nil
}

// rotateRemote triggers RotateKeys on the server, then prints its Status.
func rotateRemote(ctx context.Context, t *target, dryRun bool, stdout io.Writer) error {
	body, _ := json.Marshal(functions.RotateRequest{Reason: "cli", DryRun: dryRun})
	id := newEventID()
	now := time.Now().UTC()
	envelope, err := events.EncodePubSub(events.PubSubMessage{
		Data:        body,
		Attributes:  map[string]string{events.AttrSchedulerJob: functions.RotateKeysJob},
		MessageID:   id,
		PublishTime: now,
	})
	if err != nil {
		return err
	}
	url := strings.TrimRight(t.server, "/") + "/RotateKeys"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(envelope))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-id", id)
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-type", events.PubSubMessagePublished)
	req.Header.Set("ce-source", "//coopguard/cli/rotate")
	req.Header.Set("ce-time", now.Format(time.RFC3339Nano))
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("reach coopguard at %s: %w (start it with `make run`, or pass --config to act on a project directly)", t.server, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	mode := "rotation run"
	if dryRun {
		mode = "rotation dry run (nothing changed)"
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s failed: POST /RotateKeys: %s: %s (see the server's log; the run is safe to repeat)", mode, resp.Status, strings.TrimSpace(string(msg)))
	}
	fmt.Fprintf(stdout, "%s done on %s (details in the server's log)\n\n", mode, t.server)

	st, err := serverStatus(ctx, t)
	if err != nil {
		return err
	}
	printSecretVersions(stdout, st.Secrets)
	return nil
}

// newEventID makes a unique CloudEvent / message id.
func newEventID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "cli-" + hex.EncodeToString(b)
}

// printRotationReport prints one row per version that is not destroyed,
// with what the run did to it, then one line per secret with its verdict.
func printRotationReport(w io.Writer, rep *rotation.Report) {
	mode := "rotation"
	if rep.DryRun {
		mode = "rotation plan (dry run, nothing changed)"
	}
	fmt.Fprintf(w, "%s in project %s at %s (%.2fs)\n\n", mode, rep.Project, rep.StartedAt.UTC().Format(time.RFC3339), rep.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SECRET\tVERSION\tSTATE\tAGE\tDONE / DUE")
	for _, s := range rep.Secrets {
		did := map[string][]string{}
		for _, a := range s.Actions {
			if a.Action != rotation.ActionAddVersion {
				did[a.Target] = append(did[a.Target], actionWord(a))
			}
		}
		destroyed := 0
		for _, v := range s.Versions {
			if v.State == rotation.StateDestroyed && len(did[v.Name]) == 0 {
				destroyed++
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.Secret, v.Number, v.State, rotation.FormatAge(time.Duration(v.AgeSeconds)*time.Second), strings.Join(did[v.Name], ", "))
		}
		fmt.Fprintf(tw, "%s\t\t\t\t%s\n", s.Secret, secretVerdict(s, destroyed))
	}
	tw.Flush()
}

// actionWord is how the table shows one action's result.
func actionWord(a incident.ActionResult) string {
	verb := strings.TrimSuffix(a.Action, "-version")
	switch a.Result {
	case incident.ResultDone:
		return map[string]string{"add": "added", "disable": "disabled", "destroy": "destroyed"}[verb]
	case incident.ResultDryRun:
		return "would " + verb
	default:
		return verb + " " + a.String()
	}
}

// secretVerdict is a secret's summary line: missing, due (and what was
// done about it), or when it is next due.
func secretVerdict(s rotation.SecretReport, destroyed int) string {
	var parts []string
	switch {
	case s.Refused != "":
		parts = append(parts, "refused: "+s.Refused)
	case s.Missing:
		parts = append(parts, "MISSING: run coopguard provision")
	case s.Due:
		parts = append(parts, "DUE: "+s.DueReason)
		for _, a := range s.Actions {
			if a.Action == rotation.ActionAddVersion {
				if a.Result == incident.ResultDone {
					parts = append(parts, a.Detail) // "added version N"
				} else {
					parts = append(parts, actionWord(a))
				}
			}
		}
		if s.NotAdded != "" {
			parts = append(parts, s.NotAdded)
		}
		if s.Identity != "" {
			parts = append(parts, s.Identity)
		}
	case !s.NextRotation.IsZero():
		parts = append(parts, "ok: next rotation "+s.NextRotation.UTC().Format("2006-01-02"))
	}
	if destroyed > 0 {
		parts = append(parts, fmt.Sprintf("%d destroyed version(s) not shown", destroyed))
	}
	if s.Error != "" {
		parts = append(parts, "ERROR: "+s.Error)
	}
	return strings.Join(parts, "; ")
}

// printSecretVersions prints Status's secrets: versions, ages, due.
func printSecretVersions(w io.Writer, secrets []functions.SecretStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SECRET\tVERSION\tSTATE\tAGE\tDUE")
	for _, s := range secrets {
		short := s.Name[strings.LastIndex(s.Name, "/")+1:]
		for _, v := range s.Versions {
			if v.State == rotation.StateDestroyed {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", short, v.Name[strings.LastIndex(v.Name, "/")+1:], v.State, rotation.FormatAge(time.Duration(v.AgeSeconds)*time.Second))
		}
		verdict := "ok"
		switch {
		case s.Missing:
			verdict = "MISSING: run coopguard provision"
		case s.RotationDue:
			verdict = "DUE: " + s.RotationDueReason
		case !s.NextRotation.IsZero():
			verdict = "ok: next rotation " + s.NextRotation.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t\t\t\t%s\n", short, verdict)
	}
	tw.Flush()
}
