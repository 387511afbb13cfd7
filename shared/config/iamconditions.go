package config

import (
	"embed"
	"fmt"
	"strings"
)

// IAMConditions are the templates of coopguard's IAM conditions
// (iamconditions/<name>: title, description, one term per named resource),
// the one place each condition is written: deploy/deploy.sh reads the same
// files.
//
//go:embed iamconditions/*
var IAMConditions embed.FS

// condition is one template of IAMConditions.
type condition struct{ title, description, term string }

// iamCondition reads template name; a broken template is a bug of this
// package, caught by its tests.
func iamCondition(name string) condition {
	b, err := IAMConditions.ReadFile("iamconditions/" + name)
	if err != nil {
		panic(fmt.Sprintf("config: IAM condition template %s: %v", name, err))
	}
	var c condition
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "title":
			c.title = v
		case "description":
			c.description = v
		case "term":
			c.term = v
		}
	}
	if c.title == "" || c.description == "" || c.term == "" {
		panic(fmt.Sprintf("config: IAM condition template %s lacks title=, description= or term=", name))
	}
	return c
}

// fill replaces each {key} of s by its value (pairs: key, value, …).
func fill(s string, pairs ...string) string {
	var r []string
	for i := 0; i+1 < len(pairs); i += 2 {
		r = append(r, "{"+pairs[i]+"}", pairs[i+1])
	}
	return strings.NewReplacer(r...).Replace(s)
}

// widen returns expression with term added, unless it has it already:
// a condition names a resource exactly when it holds that resource's
// term, so widening needs no parsing of the expression.
func widen(expression, term string) string {
	switch {
	case expression == "":
		return term
	case strings.Contains(expression, term):
		return expression
	}
	return expression + " || " + term
}
