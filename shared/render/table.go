package render

import (
	"fmt"
	"io"
	"strings"
)

// Column is one column of a markdown table: its title (coopguard's own
// text) and whether its cells are numbers, aligned right.
type Column struct {
	Title string
	Right bool
}

// Table writes a markdown table to w: the header, the alignment row and
// one line per row. Cells go in as given: the caller makes outside text
// inert first (Text, Code), so a value cannot add a cell or a line.
func Table(w io.Writer, cols []Column, rows [][]string) {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c.Title)
	}
	b.WriteString("\n|")
	for _, c := range cols {
		if c.Right {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("|")
		for _, cell := range r {
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}

// Text makes outside text inert in a markdown line or table cell (see
// md): no markup, no link, no line break, no reordering.
func Text(s string) string { return md(s) }

// Code is outside text as an inline code span: a backtick or a pipe,
// which would end the span or the table cell, becomes "?", and control
// and bidirectional-override characters are written as \uXXXX.
func Code(s string) string {
	var b strings.Builder
	b.WriteByte('`')
	for _, r := range s {
		switch {
		case r == '`' || r == '|':
			b.WriteByte('?')
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('`')
	return b.String()
}
