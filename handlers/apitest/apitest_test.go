package apitest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// spec is a small document: one operation with a body, two answers.
const spec = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/api/things": {
      "post": {
        "operationId": "createThing",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}, "additionalProperties": false}}}},
        "responses": {
          "201": {"description": "created", "content": {"application/json": {"schema": {
            "type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}}},
          "422": {"description": "invalid", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        }
      }
    },
    "/healthz": {"get": {"operationId": "health", "responses": {"200": {"description": "ok"}}}}
  },
  "components": {"schemas": {"Problem": {"type": "object", "required": ["title", "status"],
    "properties": {"title": {"type": "string"}, "status": {"type": "integer"}}}}}
}`

func newChecker(t *testing.T) *Checker {
	t.Helper()
	c, err := New([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func exchange(method, path, reqBody string, status int, ct, body string) Exchange {
	req := httptest.NewRequest(method, path, nil)
	if reqBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return Exchange{Request: req, RequestBody: []byte(reqBody), Status: status,
		Header: http.Header{"Content-Type": {ct}}, Body: []byte(body)}
}

func TestCheck(t *testing.T) {
	c := newChecker(t)
	if got := c.Documented(); !slices.Equal(got, []string{"GET /healthz 200", "POST /api/things 201", "POST /api/things 422"}) {
		t.Fatalf("Documented() = %v", got)
	}
	const problem = `{"title":"x","status":422}`
	for name, tc := range map[string]struct {
		x  Exchange
		ok bool
	}{
		"good":                   {exchange("POST", "/api/things", `{"name":"a"}`, 201, "application/json", `{"id":1}`), true},
		"refusal of a bad body":  {exchange("POST", "/api/things", `{"name":1}`, 422, "application/problem+json", problem), true},
		"unknown path refused":   {exchange("GET", "/api/nope", "", 404, "application/problem+json", problem), true},
		"bad body accepted":      {exchange("POST", "/api/things", `{"name":1}`, 201, "application/json", `{"id":1}`), false},
		"answer off its schema":  {exchange("POST", "/api/things", `{"name":"a"}`, 201, "application/json", `{"id":"1"}`), false},
		"undocumented status":    {exchange("POST", "/api/things", `{"name":"a"}`, 200, "application/json", `{"id":1}`), false},
		"error not a problem":    {exchange("POST", "/api/things", `{"name":1}`, 422, "application/json", problem), false},
		"unknown path answered":  {exchange("GET", "/api/nope", "", 200, "application/json", `{}`), false},
		"unknown path 500":       {exchange("GET", "/api/nope", "", 500, "application/problem+json", `{"title":"x","status":500}`), false},
		"a hash in the answer":   {exchange("POST", "/api/things", `{"name":"a"}`, 201, "application/json", `{"id":1,"h":"`+strings.Repeat("0f", 32)+`"}`), false},
		"argon2 in the answer":   {exchange("POST", "/api/things", `{"name":"a"}`, 201, "application/json", `{"id":1,"h":"$argon2id$v=19"}`), false},
		"refusal without schema": {exchange("POST", "/api/things", `{"name":1}`, 422, "application/problem+json", `{"status":422}`), false},
	} {
		if err := c.Check(tc.x); (err == nil) != tc.ok {
			t.Errorf("%s: Check = %v, want ok=%v", name, err, tc.ok)
		}
	}
	if !c.Seen("POST", "/api/things", 201) || !c.Seen("POST", "/api/things", 422) {
		t.Error("validated answers not recorded")
	}
	if got := c.Missing(); !slices.Equal(got, []string{"GET /healthz 200"}) {
		t.Errorf("Missing() = %v", got)
	}
	if !c.Applies("/api/anything") || !c.Applies("/healthz") || c.Applies("/login") {
		t.Error("Applies judges the wrong paths")
	}
}

// TestTransport: exchanges over a real connection are checked, and the
// caller still reads both bodies whole.
func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/login":
			io.WriteString(w, "<html>")
		case string(b) == `{"name":"a"}`:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			io.WriteString(w, `{"id":7}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			io.WriteString(w, `{"id":"wrong"}`)
		}
	}))
	defer srv.Close()
	c := newChecker(t)
	var reported []error
	client := &http.Client{Transport: c.Transport(nil, func(err error) { reported = append(reported, err) })}
	post := func(body string) string {
		resp, err := client.Post(srv.URL+"/api/things", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := post(`{"name":"a"}`); got != `{"id":7}` || len(reported) != 0 {
		t.Fatalf("good exchange: body %q, reported %v", got, reported)
	}
	post(`{"name":"b"}`)
	if len(reported) != 1 || !strings.Contains(errors.Join(reported...).Error(), "does not match") {
		t.Errorf("bad answer reported as %v", reported)
	}
	resp, err := client.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(reported) != 1 {
		t.Errorf("a path outside the API was judged: %v", reported)
	}
}
