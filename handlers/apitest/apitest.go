// Package apitest checks exchanges with Gatehouse's JSON API against its
// OpenAPI document (handlers/openapi.json), for the tests of every package
// that calls the API: in-process handler tests, the real binary and the
// browser tests. A request the document calls invalid must be refused, an
// answer must be one the document describes for its operation (status,
// headers, body), and every error is problem+json. The checker records
// which documented (method, path, status) answers it validated, so that a
// test suite can fail when a documented answer was never exercised: a
// document describing answers nobody checks proves nothing.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Checker validates exchanges against one OpenAPI document; it is safe for
// concurrent use (parallel tests share one).
type Checker struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]bool // Key of every validated answer
}

// New loads and validates an OpenAPI document.
func New(spec []byte) (*Checker, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("apitest: load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("apitest: not a valid OpenAPI document: %w", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("apitest: route the OpenAPI document: %w", err)
	}
	return &Checker{doc: doc, router: router, seen: map[string]bool{}}, nil
}

// Doc returns the loaded document.
func (c *Checker) Doc() *openapi3.T { return c.doc }

// Router returns the document's router, which finds the operation of a
// request.
func (c *Checker) Router() routers.Router { return c.router }

// Key names a documented answer: "METHOD /path/{template} STATUS".
func Key(method, pathTemplate string, status int) string {
	return method + " " + pathTemplate + " " + strconv.Itoa(status)
}

// Applies reports whether the checker judges requests to path: every path
// under /api/, and the document's other literal paths (such as /healthz).
func (c *Checker) Applies(path string) bool {
	return strings.HasPrefix(path, "/api/") || c.doc.Paths.Value(path) != nil
}

// Exchange is one request and its answer.
type Exchange struct {
	// Request is the request as sent; its Body is not read (it may have
	// been consumed): RequestBody holds the bytes that were sent.
	Request     *http.Request
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// secretish matches what must never appear in an answer: argon2id hashes,
// 64-hex-digit hashes (token and session keys) and the names of secret
// fields.
var secretish = regexp.MustCompile(`\$argon2|[0-9a-f]{64}|(?i)passwordhash|totpsecret|recoveryhash`)

// Check validates one exchange. A request to a path or method the
// document does not have must be refused with a 4xx problem+json: 404, or
// the refusal of a request that never got as far as the routing (401 and
// 403 come first, so that unknown paths tell strangers nothing). Validated
// answers of documented operations are recorded (see Seen and Missing).
func (c *Checker) Check(x Exchange) error {
	req := x.Request
	what := req.Method + " " + req.URL.Path
	if x.Status >= 400 {
		if ct := x.Header.Get("Content-Type"); ct != "application/problem+json" {
			return fmt.Errorf("%s: error %d with Content-Type %q, want application/problem+json", what, x.Status, ct)
		}
	}
	if secretish.Match(x.Body) && !strings.HasSuffix(req.URL.Path, "/openapi.json") {
		return fmt.Errorf("%s: the answer looks like it holds a secret or hash:\n%s", what, trim(x.Body))
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if x.Status < 400 || x.Status >= 500 {
			return fmt.Errorf("%s: not in the OpenAPI document, and answered %d", what, x.Status)
		}
		problem := c.doc.Components.Schemas["Problem"]
		if problem == nil {
			return fmt.Errorf("%s: the document has no Problem schema", what)
		}
		var v any
		if err := json.Unmarshal(x.Body, &v); err != nil {
			return fmt.Errorf("%s: the %d answer is not JSON: %w", what, x.Status, err)
		}
		if err := problem.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			return fmt.Errorf("%s: the %d answer is not a Problem: %w", what, x.Status, err)
		}
		return nil
	}
	// The request as the document sees it, with a fresh copy of its body.
	sent := req.Clone(context.Background())
	sent.Body = io.NopCloser(bytes.NewReader(x.RequestBody))
	sent.ContentLength = int64(len(x.RequestBody))
	reqIn := &openapi3filter.RequestValidationInput{Request: sent, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			// Authentication is the server's to judge; the document only
			// names the schemes.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         true,
		}}
	if err := openapi3filter.ValidateRequest(context.Background(), reqIn); err != nil && x.Status < 400 {
		return fmt.Errorf("%s: answered %d to a request the OpenAPI document calls invalid: %w\nrequest body: %s",
			what, x.Status, err, trim(x.RequestBody))
	}
	respIn := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: sent, PathParams: params, Route: route},
		Status:                 x.Status,
		Header:                 x.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	respIn.SetBodyBytes(x.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), respIn); err != nil {
		return fmt.Errorf("%s: the %d answer does not match the OpenAPI document: %w\nbody: %s", what, x.Status, err, trim(x.Body))
	}
	c.mu.Lock()
	c.seen[Key(req.Method, route.Path, x.Status)] = true
	c.mu.Unlock()
	return nil
}

// Seen reports whether an answer with status to method and pathTemplate was
// validated.
func (c *Checker) Seen(method, pathTemplate string, status int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[Key(method, pathTemplate, status)]
}

// Documented returns every (method, path, status) answer the document
// lists, sorted, as Keys.
func (c *Checker) Documented() []string {
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses == nil {
				continue
			}
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					continue // "default" or a range such as 4XX: no single answer to exercise
				}
				out = append(out, Key(method, path, status))
			}
		}
	}
	sort.Strings(out)
	return out
}

// Missing returns the documented answers that were never validated.
func (c *Checker) Missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, k := range c.Documented() {
		if !c.seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// Transport returns a RoundTripper that sends through next
// (http.DefaultTransport when nil) and checks every exchange on a path the
// checker Applies to, handing each failure to report (a test's Errorf).
// The answer's body is read and handed on unchanged.
func (c *Checker) Transport(next http.RoundTripper, report func(error)) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{c: c, next: next, report: report}
}

type transport struct {
	c      *Checker
	next   http.RoundTripper
	report func(error)
}

// RoundTrip sends req and checks the exchange.
func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !tr.c.Applies(req.URL.Path) {
		return tr.next.RoundTrip(req)
	}
	var sent []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if sent, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("apitest: read the request body: %w", err)
		}
		req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	resp, err := tr.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("apitest: read the answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := tr.c.Check(Exchange{Request: req, RequestBody: sent, Status: resp.StatusCode, Header: resp.Header, Body: body}); err != nil {
		tr.report(err)
	}
	return resp, nil
}

func trim(b []byte) string {
	if len(b) > 3000 {
		return string(b[:3000]) + "…"
	}
	return string(b)
}
