package handlers

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-panel/gatehouse/model"
)

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
			return
		}
		if token == "" || strings.ContainsAny(token, " \t") || len(token) > 512 {
			t.Fatalf("parseBearer(%q) = %q", header, token)
		}
		if !strings.EqualFold(header[:6], "bearer") || !strings.Contains(header, token) {
			t.Fatalf("parseBearer(%q) = %q", header, token)
		}
		// Whatever it returns, the model refuses it without a panic unless
		// it is a well-formed token.
		_ = model.WellFormedToken(token)
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
