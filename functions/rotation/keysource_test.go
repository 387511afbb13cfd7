package rotation

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseKeyResponse(t *testing.T) {
	tests := []struct {
		body    string
		want    string
		wantErr bool
	}{
		{`{"key":"sk-abc"}`, "sk-abc", false},
		{`{"id":"k1","key":"sk-\u00e9\n\"\\\/x","expires":3}`, "sk-é\n\"\\/x", false},
		{`{"key":"\ud83d\ude00"}`, "😀", false},
		{`{"key":"\ud83d"}`, "\ufffd", false},
		{`{"key":""}`, "", true},
		{`{"key":null}`, "", true},
		{`{"key":["a"]}`, "", true},
		{`{}`, "", true},
		{`"sk-abc"`, "", true},
		{`{"key":"sk-abc"`, "", true},
	}
	for _, tc := range tests {
		got, _, err := parseKeyResponse([]byte(tc.body))
		if (err != nil) != tc.wantErr || string(got) != tc.want {
			t.Errorf("parseKeyResponse(%s) = %q, %v; want %q (error %v)", tc.body, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestRedactURL(t *testing.T) {
	if got := redactURL("https://user:pw@mint.example.com/v1/keys?token=abc#f"); got != "https://mint.example.com/v1/keys" {
		t.Errorf("redactURL = %q", got)
	}
}

// FuzzUnquoteJSON checks the hand-written unquoting against encoding/json
// on every valid JSON string literal.
func FuzzUnquoteJSON(f *testing.F) {
	for _, s := range []string{`"a"`, `"\u00e9\n"`, `"\ud83d\ude00"`, `"\ud800x"`, `"\\\"/"`, `""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var want string
		jsonErr := json.Unmarshal([]byte(raw), &want)
		// A json.RawMessage, what unquoteJSON receives, has no surrounding space.
		raw = strings.Trim(raw, " \t\r\n")
		got, err := unquoteJSON([]byte(raw))
		if jsonErr != nil || !utf8.ValidString(raw) {
			// Not a string literal (or invalid UTF-8, which encoding/json
			// rewrites): only require no panic and no longer output.
			if err == nil && len(got) > len(raw) {
				t.Fatalf("output longer than input")
			}
			return
		}
		if raw == "" || raw[0] != '"' {
			if err == nil {
				t.Fatalf("unquoteJSON accepted non-string %q", raw)
			}
			return
		}
		if err != nil || string(got) != want {
			t.Fatalf("unquoteJSON(%q) = %q, %v; encoding/json says %q", raw, got, err, want)
		}
	})
}
