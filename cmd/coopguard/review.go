package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/review"
)

// runReview is `coopguard review`: the weekly review on demand, as
// markdown on standard output and, with --html, as a self-contained page.
// It reads the project directly (--config), as the operator: the review
// reads Cloud Audit Logs and Cloud NAT logs within the Logging quota.
func runReview(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("review", flag.ContinueOnError)
	var t target
	t.flags(fs)
	var since config.Duration
	since.Duration = 7 * 24 * time.Hour
	fs.TextVar(&since, "since", since, "the window, ending now: 7d, 36h (at most 30d, Cloud Logging's retention)")
	htmlPath := fs.String("html", "", "also write the review as a self-contained HTML page to this file")
	asJSON := fs.Bool("json", false, "print the review as JSON instead of markdown")
	sandbox := fs.String("sandbox", "", "review only this sandbox (default: every sandbox of the project)")
	noRecord := fs.Bool("no-record", false, "do not record what this review saw: the next review marks the same things new")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !t.direct() {
		return errors.New("review reads the project's logs with your credentials: pass --config (or set COOPGUARD_CONFIG)")
	}
	e, err := t.env(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	return writeReview(ctx, e, functions.ReviewOptions{Since: since.Duration, Sandbox: *sandbox, Record: !*noRecord, Account: config.AccountReviewer}, *htmlPath, *asJSON, stdout)
}

// writeReview builds the review on e and writes it: markdown (or JSON)
// on stdout, the HTML page to htmlPath when set.
func writeReview(ctx context.Context, e *functions.Env, o functions.ReviewOptions, htmlPath string, asJSON bool, stdout io.Writer) error {
	rv, err := functions.BuildReview(ctx, e, o)
	if errors.Is(err, functions.ErrReviewWindow) || errors.Is(err, functions.ErrReviewSandbox) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return err
	}
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
