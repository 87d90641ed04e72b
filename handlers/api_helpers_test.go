package handlers

// Helpers of the JSON API tests: requests through app.Test with a bearer
// token or a browser session, and the contract check that validates every
// answer against openapi.json with kin-openapi's openapi3filter. Names
// start with api… so they do not collide with other test files.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gatehouse-panel/gatehouse/model"
)

var apiSpec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error

	mu      sync.Mutex
	covered map[string]bool // "METHOD /path/{x} STATUS" of validated answers
}

// apiLoadSpec loads and validates the embedded openapi.json once.
func apiLoadSpec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	apiSpec.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(openAPIDoc)
		if err != nil {
			apiSpec.err = fmt.Errorf("load openapi.json: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			apiSpec.err = fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
			return
		}
		apiSpec.doc = doc
		apiSpec.router, apiSpec.err = legacy.NewRouter(doc)
		apiSpec.covered = map[string]bool{}
	})
	if apiSpec.err != nil {
		t.Fatal(apiSpec.err)
	}
	return apiSpec.doc, apiSpec.router
}

// apiCall is one API request.
type apiCall struct {
	Method string
	Path   string
	// Body is sent as JSON; a string or []byte is sent as it is.
	Body        any
	ContentType string // default application/json when there is a body
	// Token is sent as Authorization: Bearer.
	Token string
	// Session sends the cookie; CSRF adds its X-CSRF-Token header.
	Session *thSession
	CSRF    bool
	// ClientIP is the client address, told through X-Forwarded-For by the
	// trusted proxy 0.0.0.0 (the peer app.Test reports); the app must be
	// built with apiTrustTestPeer.
	ClientIP string
	Headers  map[string]string
}

// apiTrustTestPeer is a newTestApp option that trusts app.Test's peer
// address, so that requests can name their client address.
var apiTrustTestPeer = thTrustProxies("0.0.0.0/32")

// apiResponse is an answer with its JSON decoded (when it is JSON).
type apiResponse struct {
	*thResponse
	JSON map[string]any
}

// Items returns the items of a list answer.
func (r *apiResponse) Items() []map[string]any {
	var out []map[string]any
	items, _ := r.JSON["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// Field returns the message of field in a problem answer's errors.
func (r *apiResponse) Field(field string) string {
	errs, _ := r.JSON["errors"].(map[string]any)
	s, _ := errs[field].(string)
	return s
}

func (c apiCall) request(t testing.TB) *http.Request {
	t.Helper()
	var body []byte
	switch b := c.Body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(c.Method, thPublicURL+c.Path, rd)
	} else {
		req, err = http.NewRequest(c.Method, thPublicURL+c.Path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		ct := c.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.Session != nil {
		req.AddCookie(c.Session.Cookie())
		if c.CSRF {
			req.Header.Set(csrfHeader, c.Session.CSRF)
		}
	}
	if c.ClientIP != "" {
		req.Header.Set("X-Forwarded-For", c.ClientIP)
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	return req
}

// API sends c through app.Test and checks the answer against openapi.json.
func (ta *testApp) API(t testing.TB, c apiCall) *apiResponse {
	t.Helper()
	req := c.request(t)
	resp, err := ta.App.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", c.Method, c.Path, err)
	}
	r := &apiResponse{thResponse: thRead(t, resp)}
	ct := r.Header.Get("Content-Type")
	if strings.Contains(ct, "json") && r.Body != "" {
		if err := json.Unmarshal([]byte(r.Body), &r.JSON); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", c.Method, c.Path, err, r.Body)
		}
	}
	apiCheckContract(t, req, r)
	return r
}

var apiSecretish = regexp.MustCompile(`\$argon2|[0-9a-f]{64}|(?i)passwordhash|totpsecret|recoveryhash`)

// apiCheckContract validates an answer against openapi.json: status,
// headers and body of the operation the request names. Answers to paths
// that are not in the document must be problem+json 404s.
func apiCheckContract(t testing.TB, req *http.Request, r *apiResponse) {
	t.Helper()
	doc, router := apiLoadSpec(t)
	if r.Status >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %s: error %d with Content-Type %q, want application/problem+json", req.Method, req.URL.Path, r.Status, ct)
		}
	}
	if apiSecretish.MatchString(r.Body) && !strings.HasSuffix(req.URL.Path, "/openapi.json") {
		t.Errorf("%s %s: the answer looks like it holds a secret or hash:\n%s", req.Method, req.URL.Path, r.Body)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if r.Status != http.StatusNotFound && r.Status != http.StatusUnauthorized {
			t.Errorf("%s %s: not in openapi.json, and answered %d", req.Method, req.URL.Path, r.Status)
		}
		if err := doc.Components.Schemas["Problem"].Value.VisitJSON(apiAny(t, r.Body), openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s %s: the %d answer is not a Problem: %v", req.Method, req.URL.Path, r.Status, err)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes([]byte(r.Body))
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: the %d answer does not match openapi.json: %v\nbody: %s", req.Method, req.URL.Path, r.Status, err, thTrim(r.Body))
	}
	apiSpec.mu.Lock()
	apiSpec.covered[fmt.Sprintf("%s %s %d", req.Method, route.Path, r.Status)] = true
	apiSpec.mu.Unlock()
}

func apiAny(t testing.TB, body string) any {
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	return v
}

// apiToken creates an access token for u directly in the store and
// returns its value.
func (ta *testApp) apiToken(t testing.TB, u model.User, ips ...string) (string, model.Token) {
	t.Helper()
	value, tok, err := ta.Store.CreateToken(u.ID, model.NewToken{IPs: ips, ExpiresAt: ta.Clock.Now().Add(24 * time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return value, tok
}

// apiCloseHandler writes pending last uses when the test ends, before
// the store closes (cleanups run last-registered first).
func apiCloseHandler(t testing.TB, ta *testApp) {
	t.Cleanup(func() {
		if err := ta.Uses.Flush(); err != nil {
			t.Errorf("writing token last uses: %v", err)
		}
	})
}

// apiNewApp is newTestApp with the handler closed at the end.
func apiNewApp(t testing.TB, opts ...func(*Config)) *testApp {
	t.Helper()
	ta := newTestApp(t, opts...)
	apiCloseHandler(t, ta)
	return ta
}

// apiWant checks a status and that the body contains each of want.
func apiWant(t testing.TB, r *apiResponse, status int, want ...string) {
	t.Helper()
	thCheck(t, r.thResponse, status, want, nil, nil)
}
