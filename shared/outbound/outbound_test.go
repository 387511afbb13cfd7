package outbound

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url  string
		ok   bool
		hide string // must not appear in the error
	}{
		{"https://api.anthropic.com", true, ""},
		{"https://keys.example.com/revoke?tenant=x", true, ""},
		{"http://127.0.0.1:8080/revoke", true, ""},
		{"http://localhost:9/x", true, ""},
		{"http://[::1]:9/x", true, ""},
		{"http://keys.example.com/revoke?token=querySECRET", false, "querySECRET"},
		{"https://user:pwSECRET@keys.example.com/", false, "pwSECRET"},
		{"ftp://keys.example.com/", false, ""},
		{"keys.example.com/revoke", false, ""},
		{"http://127.0.0.1.example.com/", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckURL(tt.url)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckURL = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && tt.hide != "" && strings.Contains(err.Error(), tt.hide) {
				t.Errorf("error %q shows %s", err, tt.hide)
			}
		})
	}
}

func TestClientRules(t *testing.T) {
	var hits int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer other.Close()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
		case "/slow":
			<-r.Context().Done()
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}))
	defer target.Close()
	host := strings.TrimPrefix(target.URL, "http://")
	c := Client(nil, host, 300*time.Millisecond)
	tests := []struct {
		name, url string
		wantErr   string
	}{
		{"the configured host", target.URL + "/", ""},
		{"another host", other.URL + "/", "another host refused"},
		{"a redirect", target.URL + "/redirect", "redirect refused"},
		// Go words a client timeout "Client.Timeout exceeded" or
		// "context deadline exceeded" depending on which fires first: both
		// are timeouts, and that is what is checked.
		{"too slow", target.URL + "/slow", "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Get(tt.url)
			if resp != nil {
				resp.Body.Close()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr == "timeout":
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("err = %v, want a timeout", err)
				}
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if hits != 0 {
		t.Errorf("the other host got %d requests", hits)
	}
}

func TestReadAllBound(t *testing.T) {
	tests := []struct {
		in      string
		max     int
		want    string
		tooLong bool
	}{
		{"abc", 3, "abc", false},
		{"", 3, "", false},
		{"abcd", 3, "", true},
	}
	for _, tt := range tests {
		got, err := ReadAll(strings.NewReader(tt.in), tt.max)
		if tt.tooLong != errors.Is(err, ErrTooLarge) || string(got) != tt.want {
			t.Errorf("ReadAll(%q, %d) = %q, %v", tt.in, tt.max, got, err)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("https://user:pw@mint.example.com/v1/keys?token=abc#f"); got != "https://mint.example.com/v1/keys" {
		t.Errorf("Redact = %q", got)
	}
}
