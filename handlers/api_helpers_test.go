package handlers

// Helpers of the JSON API tests: requests through app.Test with a bearer
// token or a browser session, and the contract check (package apitest)
// that validates every API exchange against openapi.json. Names start with
// api… so they do not collide with other test files.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/gatehouse-panel/gatehouse/handlers/apitest"
	"github.com/gatehouse-panel/gatehouse/model"
)

// apiSpec is the checker of every API exchange in this package's tests,
// shared so that TestMain can list the documented answers no test saw.
var apiSpec struct {
	once    sync.Once
	checker *apitest.Checker
	err     error
}

// apiChecker loads and validates the embedded openapi.json once.
func apiChecker(t testing.TB) *apitest.Checker {
	t.Helper()
	apiSpec.once.Do(func() { apiSpec.checker, apiSpec.err = apitest.New(openAPIDoc) })
	if apiSpec.err != nil {
		t.Fatal(apiSpec.err)
	}
	return apiSpec.checker
}

// apiLoadSpec returns the loaded openapi.json and its router.
func apiLoadSpec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	c := apiChecker(t)
	return c.Doc(), c.Router()
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
	r := &apiResponse{thResponse: ta.roundTrip(t, c.request(t))}
	ct := r.Header.Get("Content-Type")
	if strings.Contains(ct, "json") && r.Body != "" {
		if err := json.Unmarshal([]byte(r.Body), &r.JSON); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", c.Method, c.Path, err, r.Body)
		}
	}
	return r
}

// roundTrip is the one way the tests send a request to the app: through
// app.Test (without its timeout: argon2 is slow under -race). Every
// exchange on an API path (see apitest.Checker.Applies) is checked against
// openapi.json, request and answer, whichever helper sent it.
func (ta *testApp) roundTrip(t testing.TB, req *http.Request) *thResponse {
	t.Helper()
	var sent []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if sent, err = io.ReadAll(req.Body); err != nil {
			t.Fatalf("%s %s: read the request body: %v", req.Method, req.URL.Path, err)
		}
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	resp, err := ta.App.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	r := thRead(t, resp)
	if c := apiChecker(t); c.Applies(req.URL.Path) {
		x := apitest.Exchange{Request: req, RequestBody: sent, Status: r.Status, Header: r.Header, Body: []byte(r.Body)}
		if err := c.Check(x); err != nil {
			t.Error(err)
		}
	}
	return r
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
