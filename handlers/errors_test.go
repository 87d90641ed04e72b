package handlers

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
	"io"
	"strconv"
	"strings"
	"testing"
)

// TestErrorFormByRouteGroup: every refusal takes the form of its route
// group, whether a handler or a middleware in front of it refused: RFC
// 9457 problem+json for the API, /healthz and the passkey ceremonies, a
// page (or the flash area, for htmx) everywhere else. Paths shared by a
// ceremony and a page (the Passkeys dialog) answer by method. The API's
// answers are checked against openapi.json too.
func TestErrorFormByRouteGroup(t *testing.T) {
	ta := newTestApp(t)
	bob := testkit.AddUser(t, ta.Store, "bob")
	s := ta.Session(t, ta.Admin)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"username":"zip"}`))
	zw.Close()
	gzipped := map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"}
	foreign := map[string]string{"Sec-Fetch-Site": "cross-site"}
	own := "/settings/users/" + strconv.Itoa(ta.Admin.ID)
	bobs := "/settings/users/" + strconv.Itoa(bob.ID)
	cases := []struct {
		name    string
		req     request
		body    []byte // the body, for requests without a form
		status  int
		problem bool
		want    string
	}{
		// The API.
		{"api gzip body", request{Method: "POST", URL: "/api/v1/users", Headers: gzipped}, gz.Bytes(), 415, true, "Compressed"},
		{"api foreign origin", request{Method: "POST", URL: "/api/v1/users", Session: s, CSRFHeader: s.CSRF, Headers: foreign}, nil, 403, true, "another site"},
		{"api without csrf", request{Method: "DELETE", URL: "/api/v1/users/2", Session: s}, nil, 403, true, "X-CSRF-Token"},
		{"api unknown path", request{Method: "GET", URL: "/api/v2/users", Session: s}, nil, 404, true, "No such API route"},
		{"api no user", request{Method: "GET", URL: "/api/v1/users/99", Session: s}, nil, 404, true, "This user does not exist"},
		// /healthz.
		{"healthz post", request{Method: "POST", URL: "/healthz"}, nil, 401, true, ""},
		// The passkey ceremonies.
		{"passkey login no body", request{Method: "POST", URL: "/login/passkey", Headers: map[string]string{"Content-Type": "application/json"}}, nil, 400, true, "sent no passkey"},
		{"passkey login gzip body", request{Method: "POST", URL: "/login/passkey", Headers: gzipped}, gz.Bytes(), 415, true, "Compressed"},
		{"passkey login foreign origin", request{Method: "POST", URL: "/login/passkey/options", Headers: foreign}, nil, 403, true, "another site"},
		{"passkey register other user", request{Method: "POST", URL: bobs + "/passkeys/options", Session: s, CSRFHeader: s.CSRF}, nil, 403, true, "Only bob can add a passkey"},
		{"passkey register without csrf", request{Method: "POST", URL: own + "/passkeys/options", Session: s}, nil, 403, true, "Reload the page"},
		{"passkey register without session", request{Method: "POST", URL: own + "/passkeys", Headers: map[string]string{"Content-Type": "application/json"}}, []byte("{}"), 401, true, "Log in again"},
		{"passkey register no body", request{Method: "POST", URL: own + "/passkeys", Session: s, CSRFHeader: s.CSRF}, nil, 400, true, "sent no passkey"},
		// Pages, including the Passkeys dialog that shares a ceremony's path.
		{"page no user", request{Method: "GET", URL: "/settings/users/99/edit?field=email", Session: s}, nil, 404, false, "This user does not exist"},
		{"page gzip body", request{Method: "POST", URL: "/login", Headers: map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/x-www-form-urlencoded"}}, gz.Bytes(), 415, false, "Compressed"},
		{"passkeys dialog no user", request{Method: "GET", URL: "/settings/users/99/passkeys", Session: s}, nil, 404, false, "This user does not exist"},
		{"passkey delete form no user", request{Method: "POST", URL: "/settings/users/99/passkeys/x/delete", Session: s, CSRFField: s.CSRF}, nil, 404, false, "This user does not exist"},
		{"passkeys dialog without csrf", request{Method: "POST", URL: own + "/passkeys/x/delete", Session: s}, nil, 403, false, "Reload the page"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req.build(t)
			if tc.body != nil {
				req.Body = io.NopCloser(bytes.NewReader(tc.body))
				req.ContentLength = int64(len(tc.body))
			}
			// roundTrip checks every API exchange against openapi.json.
			r := ta.roundTrip(t, req)
			checkResponse(t, r, tc.status, []string{tc.want}, nil, nil)
			ct := r.Header.Get("Content-Type")
			if !tc.problem {
				if !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want a page", ct)
				}
				return
			}
			if ct != "application/problem+json" {
				t.Fatalf("Content-Type %q, want application/problem+json; body:\n%s", ct, trimBody(r.Body))
			}
			var p struct {
				Type   string `json:"type"`
				Title  string `json:"title"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal([]byte(r.Body), &p); err != nil {
				t.Fatalf("problem body: %v\n%s", err, r.Body)
			}
			if p.Type == "" || p.Title == "" || p.Status != tc.status || p.Detail == "" {
				t.Errorf("problem %+v: want type, title, status %d and detail", p, tc.status)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
			}
		})
	}
}

// TestErrorFormHTMXFlash: an htmx request of a page answers an error into
// the page's flash area, whatever it meant to swap.
func TestErrorFormHTMXFlash(t *testing.T) {
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	r := ta.Do(t, request{Method: "GET", URL: "/settings/users/99/edit?field=email", Session: s, HTMX: true})
	checkResponse(t, r, 404, []string{"This user does not exist"}, []string{"<html", "<!doctype"},
		map[string]string{"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
}
