package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/review"
)

// runReview is `coopguard review`: the weekly review on demand, as
// markdown on standard output and, with --html, as a self-contained page.
// With --config it reads the project directly, as the operator; otherwise
// the deployment's ReviewReport function (or `coopguard serve`) builds it
// as the reviewer and this process renders it. Either way the review
// reads Cloud Audit Logs and Cloud NAT logs within the Logging quota.
func runReview(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("review", flag.ContinueOnError)
	var t target
	t.flags(fs)
	var since config.Duration
	since.Duration = 7 * 24 * time.Hour
	fs.TextVar(&since, "since", since, "the window, ending now: 7d, 36h (at most 30d, Cloud Logging's retention)")
	sandbox := fs.String("sandbox", "", "review only this sandbox (default: every sandbox of the project)")
	htmlPath := fs.String("html", "", "also write the review as a self-contained HTML page to this file")
	asJSON := fs.Bool("json", false, "print the review as JSON instead of markdown")
	noRecord := fs.Bool("no-record", false, "do not record what this review saw: the next review marks the same things new")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o := functions.ReviewOptions{Since: since.Duration, Sandbox: *sandbox, Record: !*noRecord, Account: config.AccountReviewer}
	if !t.direct() {
		// Refused here as the function would, before any request.
		if o.Since <= 0 || o.Since > review.Retention {
			return fmt.Errorf("%w: --since %s: give a window of at most 30d, Cloud Logging's retention of the _Default bucket", errUsage, review.Days(o.Since))
		}
		resp, err := t.call(ctx, http.MethodPost, "/ReviewReport", functions.ReviewRequest{Since: since, Sandbox: o.Sandbox, Record: o.Record}, "")
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusBadRequest {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			return err
		}
		defer resp.Body.Close()
		var rv review.Review
		if err := json.NewDecoder(resp.Body).Decode(&rv); err != nil {
			return fmt.Errorf("bad answer from %s/ReviewReport: %w", t.server, err)
		}
		return renderReview(&rv, *htmlPath, *asJSON, stdout)
	}
	e, err := t.env(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	return writeReview(ctx, e, o, *htmlPath, *asJSON, stdout)
}

// writeReview builds the review on e and writes it (renderReview).
func writeReview(ctx context.Context, e *functions.Env, o functions.ReviewOptions, htmlPath string, asJSON bool, stdout io.Writer) error {
	rv, err := functions.BuildReview(ctx, e, o)
	if errors.Is(err, functions.ErrReviewWindow) || errors.Is(err, functions.ErrReviewSandbox) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return err
	}
	return renderReview(rv, htmlPath, asJSON, stdout)
}

// renderReview writes rv: markdown (or JSON) on stdout, the HTML page to
// htmlPath when set. Both renderings escape what the review read.
func renderReview(rv *review.Review, htmlPath string, asJSON bool, stdout io.Writer) error {
	if htmlPath != "" {
		f, err := os.Create(htmlPath)
		if err != nil {
			return fmt.Errorf("write the review page: %w", err)
		}
		err = review.HTML(f, rv)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write the review page %s: %w", htmlPath, err)
		}
	}
	if asJSON {
		return printJSON(stdout, rv)
	}
	if err := review.Markdown(stdout, rv); err != nil {
		return err
	}
	if htmlPath != "" {
		fmt.Fprintf(stdout, "\nwrote the review as html to %s\n", htmlPath)
	}
	return nil
}
