package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// applyEnv sets every field tagged `env:"NAME"` whose variable is present.
// Lists are comma-separated, maps are "key=value" pairs separated by ";",
// rules are a JSON array.
func applyEnv(c *Config, lookup Lookuper) error {
	return walkEnv(reflect.ValueOf(c).Elem(), lookup)
}

var (
	durationType = reflect.TypeFor[Duration]()
	rulesType    = reflect.TypeFor[[]Rule]()
)

func walkEnv(v reflect.Value, lookup Lookuper) error {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		name := f.Tag.Get("env")
		if name == "" {
			if fv.Kind() == reflect.Struct && f.Type != durationType {
				if err := walkEnv(fv, lookup); err != nil {
					return err
				}
			}
			continue
		}
		raw, ok := lookup(name)
		if !ok {
			continue
		}
		if err := setFromEnv(fv, raw); err != nil {
			return fmt.Errorf("%w: environment variable %s=%q: %v", ErrInvalid, name, redact(name, raw), err)
		}
	}
	return nil
}

// redact keeps values of variables out of errors when they could hold
// something sensitive; none of coopguard's variables should, but rule
// expressions are long and the value is rarely what helps.
func redact(name, raw string) string {
	if name == "COOPGUARD_RULES" || len(raw) > 80 {
		return raw[:min(len(raw), 40)] + "…"
	}
	return raw
}

func setFromEnv(fv reflect.Value, raw string) error {
	switch {
	case fv.Type() == durationType:
		d, err := parseDuration(raw)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(Duration{d}))
	case fv.Type() == rulesType:
		var rules []Rule
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rules); err != nil {
			return fmt.Errorf("want a JSON array of {name, expression, playbook, severity}: %v", err)
		}
		fv.Set(reflect.ValueOf(rules))
	case fv.Kind() == reflect.String:
		fv.SetString(strings.TrimSpace(raw))
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return fmt.Errorf("want a number")
		}
		fv.SetFloat(f)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Float64:
		var list []float64
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("want numbers separated by ','")
			}
			list = append(list, f)
		}
		fv.Set(reflect.ValueOf(list))
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		var list []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		fv.Set(reflect.ValueOf(list))
	case fv.Kind() == reflect.Map:
		m := map[string]string{}
		for _, pair := range strings.Split(raw, ";") {
			if strings.TrimSpace(pair) == "" {
				continue
			}
			k, val, ok := strings.Cut(pair, "=")
			if !ok {
				return fmt.Errorf("want key=value pairs separated by ';'")
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		fv.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

// parseDuration accepts Go durations plus a whole-day suffix ("90d").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q: want e.g. 90d, 24h, 30m", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q: want e.g. 90d, 24h, 30m", s)
	}
	return d, nil
}

// EnvNames lists every environment variable the configuration reads, in
// field order; README's table and deploy's --set-env-vars follow it.
func EnvNames() []string {
	var out []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if n := f.Tag.Get("env"); n != "" {
				out = append(out, n)
			} else if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[Config]())
	return out
}
