package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/render"
)

// printEvidence writes the report's evidence, by source: what Google Cloud
// recorded outside the VM first, then the VM's own entries, marked
// untrusted. Every line from the report is escaped for the terminal.
func printEvidence(w io.Writer, ev *incident.Evidence) {
	blocks := render.Evidence(ev)
	if len(blocks) == 0 {
		return
	}
	fmt.Fprintf(w, "\n  evidence, incident window %s to %s\n", ev.From.UTC().Format(time.RFC3339), ev.To.UTC().Format(time.RFC3339))
	source := ""
	for _, b := range blocks {
		if b.Source != source {
			source = b.Source
			fmt.Fprintf(w, "    %s\n", escape(source))
		}
		fmt.Fprintf(w, "      %s: %s\n", escape(b.Title), escape(b.Summary))
		if b.Note != "" {
			fmt.Fprintf(w, "        (%s)\n", escape(b.Note))
		}
		for _, r := range b.Rows {
			fmt.Fprintf(w, "        %s\n", escape(r))
		}
	}
}

// showIncident writes one report in format (text, json, markdown, html)
// to output, or to stdout when output is empty.
func showIncident(rep *incident.Report, format, output string, stdout io.Writer) (err error) {
	var write func(io.Writer) error
	switch format {
	case "text", "":
		write = func(w io.Writer) error { printIncident(w, rep); return nil }
	case "json":
		write = func(w io.Writer) error { return printJSON(w, rep) }
	case "markdown", "md":
		write = func(w io.Writer) error { return render.Markdown(w, rep) }
	case "html":
		write = func(w io.Writer) error { return render.HTML(w, rep) }
	default:
		return fmt.Errorf("%w: --format %q: want text, json, markdown or html", errUsage, format)
	}
	if output == "" {
		return write(stdout)
	}
	f, err := os.Create(output)
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("--output %s: %w", output, cerr)
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("write %s: %w", output, err)
	}
	fmt.Fprintf(stdout, "wrote incident %s as %s to %s\n", escape(rep.Incident.ID), format, escape(output))
	return nil
}
