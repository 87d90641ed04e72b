package handlers

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-panel/gatehouse/model"
)

// FuzzParseBearer checks the Authorization parser: it accepts exactly the
// Bearer scheme (any case) followed by one or more spaces and one token of
// at most 512 bytes without spaces or tabs; what it returns is that token,
// and the header written again from the scheme and the token parses back
// to it. Every token of that shape is accepted.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer " + model.NewTokenValue(), "bearer x", "BEARER  y ", "Basic abc", "Bearer", "Bearer ", "Bearer a b", "Bearer\tx", "Bearerx", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := parseBearer(header)
		if !ok {
			if token != "" {
				t.Fatalf("refused %q but returned %q", header, token)
			}
			// A refused header is refused for its scheme or its token.
			if len(header) > 7 && strings.EqualFold(header[:7], "bearer ") {
				if rest := strings.TrimRight(strings.TrimLeft(header[7:], " "), " \t"); rest != "" && !strings.ContainsAny(rest, " \t") && len(rest) <= 512 {
					t.Fatalf("refused %q, whose token %q has the right shape", header, rest)
				}
			}
		} else {
			if token == "" || strings.ContainsAny(token, " \t") || len(token) > 512 {
				t.Fatalf("parseBearer(%q) = %q: not one token of at most 512 bytes", header, token)
			}
			if len(header) < 7 || !strings.EqualFold(header[:7], "bearer ") {
				t.Fatalf("parseBearer(%q) accepted a scheme other than Bearer", header)
			}
			if rest := strings.TrimRight(strings.TrimLeft(header[7:], " "), " \t"); rest != token {
				t.Fatalf("parseBearer(%q) = %q, but the header holds %q", header, token, rest)
			}
			for _, again := range []string{"Bearer " + token, "bearer   " + token + " \t", "BEARER " + token} {
				if got, ok := parseBearer(again); !ok || got != token {
					t.Fatalf("parseBearer(%q) = %q, %v; want %q as from %q", again, got, ok, token, header)
				}
			}
		}
		// Whatever the header, a token of the right shape is accepted after
		// the scheme, and any other scheme is refused.
		if tok := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, header); tok != "" && len(tok) <= 512 {
			if got, ok := parseBearer("Bearer " + tok); !ok || got != tok {
				t.Fatalf("parseBearer(%q) = %q, %v; want the token", "Bearer "+tok, got, ok)
			}
			for _, scheme := range []string{"Basic ", "Token ", "Bearer\t", "Bearer:", "Bear "} {
				if got, ok := parseBearer(scheme + tok); ok {
					t.Fatalf("parseBearer(%q) accepted %q", scheme+tok, got)
				}
			}
		}
	})
}

// FuzzDecodeJSON feeds every API body type arbitrary bytes: the decoder
// must answer with nil or a 4xx error, never panic, and never accept
// invalid UTF-8 or data after the object.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"username":"a","password":"b","email":"c"}`, `{"ips":["10.0.0.0/8"],"expires_at":"2030-01-01T00:00:00Z"}`,
		`{"ips":null}`, `{"x":1}`, `[]`, `null`, `{"email":1}`, "{\"email\":\"\xff\"}", `{} {}`, `{"ips":[1]}`, ` {"password":"\u0000"} `, `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{
			&struct {
				Username string `json:"username"`
				Password string `json:"password"`
				Email    string `json:"email"`
			}{},
			&struct {
				Username *string `json:"username"`
				Email    *string `json:"email"`
			}{},
			&struct {
				IPs       []string `json:"ips"`
				ExpiresAt string   `json:"expires_at"`
			}{},
			&struct {
				IPs       *[]string `json:"ips"`
				ExpiresAt *string   `json:"expires_at"`
			}{},
		}
		for _, dst := range targets {
			err := decodeJSONBytes(body, dst)
			if err == nil {
				if !utf8.Valid(body) {
					t.Fatalf("accepted invalid UTF-8 %q", body)
				}
				continue
			}
			var he *httpError
			if !errors.As(err, &he) || he.status < 400 || he.status >= 500 {
				t.Fatalf("decodeJSONBytes(%q) = %v, want a 4xx", body, err)
			}
			if status, _ := statusOf(err); status >= 500 {
				t.Fatalf("maps to %d", status)
			}
		}
	})
}
