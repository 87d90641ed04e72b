package handlers

// Unit tests of the WebAuthn ceremonies with a software authenticator
// (github.com/descope/virtualwebauthn): registration (WebAuthn §7.1) and
// usernameless login (§7.2) through the real routes, and every way they
// must fail: wrong origin, wrong RP ID, replayed and expired challenges,
// sign-count regression, backup flags, missing user verification.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/descope/virtualwebauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/handlers/cli"
	"github.com/gatehouse-panel/gatehouse/handlers/control"
	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// testRP is the relying party as the browser sees the test app
// (publicURL): RP ID localhost, origin http://localhost:8080.
var testRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Gatehouse", Origin: publicURL}

// passkeyDevice is one authenticator holding one credential, as a browser
// would use it.
type passkeyDevice struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
	rp   virtualwebauthn.RelyingParty
}

func newPasskeyDevice(opts virtualwebauthn.AuthenticatorOptions) *passkeyDevice {
	return &passkeyDevice{
		auth: virtualwebauthn.NewAuthenticatorWithOptions(opts),
		cred: newCredential(),
		rp:   testRP,
	}
}

// newCredential returns a new EC2 (P-256) credential. virtualwebauthn
// encodes the public key's coordinates without leading zero bytes, which
// COSE (RFC 9053 §7.1.1) and go-webauthn rightly refuse; so keys whose X
// or Y starts with a zero byte (1 in 128) are skipped.
func newCredential() virtualwebauthn.Credential {
	for {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if len(key.X.Bytes()) != 32 || len(key.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			panic(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// postCeremony posts a ceremony's raw body (a form or WebAuthn's JSON) of
// contentType, as the session s when it is not nil (with its CSRF token).
func postCeremony(t testing.TB, ta *testApp, path, contentType, body string, s *userSession, headers map[string]string) *response {
	t.Helper()
	return ta.Do(t, request{Method: "POST", URL: path, Body: body, ContentType: contentType, Session: s, CSRF: s != nil, Headers: headers})
}

// ceremonyErrorOf returns the "error" of a JSON answer.
func ceremonyErrorOf(r *response) string {
	var v struct {
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal([]byte(r.Body), &v)
	return v.Detail
}

// registerOptions asks for registration options for s's own user.
func registerOptions(t testing.TB, ta *testApp, s *userSession, name string) (*response, *virtualwebauthn.AttestationOptions) {
	t.Helper()
	r := postCeremony(t, ta, "/settings/users/"+strconv.Itoa(s.User.ID)+"/passkeys/options", "application/x-www-form-urlencoded",
		url.Values{"name": {name}}.Encode(), s, nil)
	if r.Status != fiber.StatusOK {
		return r, nil
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(r.Body)
	if err != nil {
		t.Fatalf("parse attestation options: %v\n%s", err, r.Body)
	}
	return r, opts
}

// attest answers registration options with d; the answer is JSON.
func (d *passkeyDevice) attest(opts *virtualwebauthn.AttestationOptions) string {
	d.auth.Options.UserHandle = []byte(opts.UserID)
	return virtualwebauthn.CreateAttestationResponse(d.rp, d.auth, d.cred, *opts)
}

func registerFinish(t testing.TB, ta *testApp, s *userSession, answer string) *response {
	t.Helper()
	return postCeremony(t, ta, "/settings/users/"+strconv.Itoa(s.User.ID)+"/passkeys", "application/json", answer, s, nil)
}

// register runs a whole registration and wants it to succeed.
func (d *passkeyDevice) register(t testing.TB, ta *testApp, s *userSession, name string) model.Passkey {
	t.Helper()
	r, opts := registerOptions(t, ta, s, name)
	if opts == nil {
		t.Fatalf("registration options: %d %s", r.Status, r.Body)
	}
	r = registerFinish(t, ta, s, d.attest(opts))
	if r.Status != fiber.StatusCreated {
		t.Fatalf("registration: %d %s", r.Status, r.Body)
	}
	p, _, _, err := ta.Store.PasskeyByCredentialID(d.cred.ID)
	if err != nil {
		t.Fatalf("the registered passkey is not stored: %v", err)
	}
	d.auth.AddCredential(d.cred)
	return p
}

// loginOptions asks for usernameless login options (no session).
func loginOptions(t testing.TB, ta *testApp, next string) (*response, *virtualwebauthn.AssertionOptions) {
	t.Helper()
	r := postCeremony(t, ta, "/login/passkey/options", "application/x-www-form-urlencoded", url.Values{"next": {next}}.Encode(), nil, nil)
	if r.Status != fiber.StatusOK {
		return r, nil
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(r.Body)
	if err != nil {
		t.Fatalf("parse assertion options: %v\n%s", err, r.Body)
	}
	return r, opts
}

func (d *passkeyDevice) assert(opts *virtualwebauthn.AssertionOptions) string {
	return virtualwebauthn.CreateAssertionResponse(d.rp, d.auth, d.cred, *opts)
}

func loginFinish(t testing.TB, ta *testApp, answer string) *response {
	t.Helper()
	return postCeremony(t, ta, "/login/passkey", "application/json", answer, nil, nil)
}

// login runs a whole login and returns the answer.
func (d *passkeyDevice) login(t testing.TB, ta *testApp) *response {
	t.Helper()
	r, opts := loginOptions(t, ta, "")
	if opts == nil {
		t.Fatalf("login options: %d %s", r.Status, r.Body)
	}
	return loginFinish(t, ta, d.assert(opts))
}

func TestPasskeyRegisterAndLogin(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})

	// The options ask for what the issue demands.
	r, opts := registerOptions(t, ta, s, "laptop")
	if opts == nil {
		t.Fatalf("options: %d %s", r.Status, r.Body)
	}
	var raw struct {
		PublicKey struct {
			RP                     struct{ ID string }   `json:"rp"`
			User                   struct{ Name string } `json:"user"`
			AuthenticatorSelection map[string]any        `json:"authenticatorSelection"`
			Extensions             map[string]any        `json:"extensions"`
			Timeout                int                   `json:"timeout"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(r.Body), &raw); err != nil {
		t.Fatal(err)
	}
	sel := raw.PublicKey.AuthenticatorSelection
	if raw.PublicKey.RP.ID != "localhost" || raw.PublicKey.User.Name != "admin" || sel["residentKey"] != "required" ||
		sel["requireResidentKey"] != true || sel["userVerification"] != "required" || raw.PublicKey.Extensions["credProps"] != true ||
		raw.PublicKey.Timeout != int((5*time.Minute)/time.Millisecond) {
		t.Errorf("registration options: %s", r.Body)
	}
	if len(opts.UserID) != 32 || strings.Contains(opts.UserID, "admin") {
		t.Errorf("user handle %q: want 32 random bytes", opts.UserID)
	}
	r = registerFinish(t, ta, s, d.attest(opts))
	if r.Status != fiber.StatusCreated {
		t.Fatalf("finish: %d %s", r.Status, r.Body)
	}
	d.auth.AddCredential(d.cred)

	p, u, handle, err := ta.Store.PasskeyByCredentialID(d.cred.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "laptop" || p.RPID != "localhost" || u.ID != ta.Admin.ID || string(handle) != opts.UserID ||
		len(p.PublicKey) == 0 || string(p.AAGUID) != string(d.auth.Aaguid[:]) || p.SignCount != 0 ||
		!p.UserVerified || p.BackupEligible || p.BackupState || p.AttestationFormat != "packed" ||
		!p.CreatedAt.Equal(ta.Clock.Now()) || p.LastUsedAt != nil {
		t.Errorf("stored passkey: %+v", p)
	}
	if u.Passkeys != 1 {
		t.Errorf("User.Passkeys = %d", u.Passkeys)
	}
	if ev := ta.AuditEvents(t, model.EventPasskeyRegistered); len(ev) != 1 || ev[0].ActorID != ta.Admin.ID || !strings.Contains(ev[0].Detail, "laptop") {
		t.Errorf("registered events: %+v", ev)
	}

	// The dialog lists it with Never.
	dlg := ta.Do(t, request{URL: "/settings/users/" + strconv.Itoa(ta.Admin.ID) + "/passkeys", HTMX: true, Session: s})
	checkResponse(t, dlg, 200, []string{"laptop", "Never", `id="passkey-register"`}, []string{"unusable here"}, nil)

	// A second registration excludes the first credential.
	_, opts2 := registerOptions(t, ta, s, "phone")
	if opts2 == nil || len(opts2.ExcludeCredentials) != 1 || opts2.ExcludeCredentials[0] != base64.RawURLEncoding.EncodeToString(d.cred.ID) {
		t.Errorf("excludeCredentials = %v", opts2)
	}
	if opts2 != nil && opts2.UserID != opts.UserID {
		t.Error("the second registration uses another user handle")
	}

	// Usernameless login, with TOTP on: complete, no second step.
	testkit.EnableTwoFactor(t, ta.Store, ta.Admin)
	ta.Clock.Advance(time.Hour)
	s = ta.Session(t, ta.Admin) // the first one is idle too long now
	d.cred.Counter = 1
	lr, lopts := loginOptions(t, ta, "/settings/users?x=1")
	if lopts == nil {
		t.Fatalf("login options: %d %s", lr.Status, lr.Body)
	}
	if len(lopts.AllowCredentials) != 0 || lopts.RelyingPartyID != "localhost" || !strings.Contains(lr.Body, `"userVerification":"required"`) {
		t.Errorf("login options: %s", lr.Body)
	}
	r = loginFinish(t, ta, d.assert(lopts))
	if r.Status != 200 || !strings.Contains(r.Body, `"redirect":"/settings/users?x=1"`) {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	c := r.Cookie(sessionCookie)
	if c == nil || c.Value == "" || r.Cookie(pendingCookie) != nil {
		t.Fatalf("login set cookies %v", r.Cookies)
	}
	if _, su, err := ta.Store.SessionByToken(c.Value, ta.H.sessionPolicy()); err != nil || su.ID != ta.Admin.ID {
		t.Errorf("the passkey login's session: %v, %v", su.Username, err)
	}
	p, _, _, _ = ta.Store.PasskeyByCredentialID(d.cred.ID)
	if p.LastUsedAt == nil || !p.LastUsedAt.Equal(ta.Clock.Now()) || p.SignCount != 1 {
		t.Errorf("after login: %+v", p)
	}
	if ev := ta.AuditEvents(t, model.EventPasskeyUsed); len(ev) != 1 || ev[0].Via != model.ViaPasskey {
		t.Errorf("used events: %+v", ev)
	}
	if ev := ta.AuditEvents(t, model.EventLoginSucceeded); len(ev) == 0 || ev[len(ev)-1].Detail != "passkey" || ev[len(ev)-1].Via != model.ViaPasskey {
		t.Errorf("login events: %+v", ev)
	}
	dlg = ta.Do(t, request{URL: "/settings/users/" + strconv.Itoa(ta.Admin.ID) + "/passkeys", HTMX: true, Session: s})
	checkResponse(t, dlg, 200, []string{"laptop", `datetime="` + ta.Clock.Now().Format(time.RFC3339) + `"`}, []string{">Never<"}, nil)

	// The API shows it, with last_used_at.
	api := ta.Do(t, request{URL: "/api/v1/users/" + strconv.Itoa(ta.Admin.ID) + "/passkeys", Session: s})
	checkResponse(t, api, 200, []string{`"name":"laptop"`, `"last_used_at":"` + ta.Clock.Now().Format(time.RFC3339) + `"`, `"total":1`}, nil, nil)

	// An unsafe next is not followed.
	d.cred.Counter = 2
	_, lopts = loginOptions(t, ta, "//evil.example/")
	r = loginFinish(t, ta, d.assert(lopts))
	if r.Status != 200 || !strings.Contains(r.Body, `"redirect":"/settings/users"`) {
		t.Errorf("login with an unsafe next: %d %s", r.Status, r.Body)
	}
}

func TestPasskeyRegistrationRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		device  func() *passkeyDevice
		answer  func(t *testing.T, ta *testApp, s *userSession, d *passkeyDevice) *response
		status  int
		message string
	}{
		{
			name: "wrong origin",
			device: func() *passkeyDevice {
				d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
				d.rp.Origin = "http://evil.example:8080"
				return d
			},
			status: 400,
		},
		{
			name: "origin on another port",
			device: func() *passkeyDevice {
				d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
				d.rp.Origin = "http://localhost:9999"
				return d
			},
			status: 400,
		},
		{
			name: "wrong RP ID",
			device: func() *passkeyDevice {
				d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
				d.rp.ID = "example.com"
				return d
			},
			status: 400,
		},
		{
			name: "no user verification",
			device: func() *passkeyDevice {
				return newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{UserNotVerified: true})
			},
			status: 400,
		},
		{
			name: "no user presence",
			device: func() *passkeyDevice {
				return newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{UserNotPresent: true})
			},
			status: 400,
		},
		{
			name: "backup state without backup eligibility",
			device: func() *passkeyDevice {
				return newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{BackupEligible: false, BackupState: true})
			},
			status: 400,
		},
		{
			name:   "expired challenge",
			device: func() *passkeyDevice { return newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{}) },
			answer: func(t *testing.T, ta *testApp, s *userSession, d *passkeyDevice) *response {
				_, opts := registerOptions(t, ta, s, "laptop")
				ta.Clock.Advance(5*time.Minute + time.Second)
				return registerFinish(t, ta, s, d.attest(opts))
			},
			status: 400, message: "expired",
		},
		{
			name:   "replayed answer",
			device: func() *passkeyDevice { return newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{}) },
			answer: func(t *testing.T, ta *testApp, s *userSession, d *passkeyDevice) *response {
				_, opts := registerOptions(t, ta, s, "laptop")
				answer := d.attest(opts)
				if r := registerFinish(t, ta, s, answer); r.Status != fiber.StatusCreated {
					t.Fatalf("first answer: %d %s", r.Status, r.Body)
				}
				if err := ta.Store.DeletePasskey(s.User.ID, mustPasskeys(t, ta, s.User.ID)[0].ID, model.CLIActor); err != nil {
					t.Fatal(err)
				}
				return registerFinish(t, ta, s, answer)
			},
			status: 400, message: "already used",
		},
		{
			name:   "answer from another browser session",
			device: func() *passkeyDevice { return newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{}) },
			answer: func(t *testing.T, ta *testApp, s *userSession, d *passkeyDevice) *response {
				_, opts := registerOptions(t, ta, s, "laptop")
				return registerFinish(t, ta, ta.Session(t, s.User), d.attest(opts))
			},
			status: 400,
		},
		{
			name:   "a login challenge used to register",
			device: func() *passkeyDevice { return newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{}) },
			answer: func(t *testing.T, ta *testApp, s *userSession, d *passkeyDevice) *response {
				_, opts := registerOptions(t, ta, s, "laptop")
				_, lopts := loginOptions(t, ta, "")
				opts.Challenge = lopts.Challenge
				return registerFinish(t, ta, s, d.attest(opts))
			},
			status: 400,
		},
		{
			name:   "garbage",
			device: func() *passkeyDevice { return newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{}) },
			answer: func(t *testing.T, ta *testApp, s *userSession, d *passkeyDevice) *response {
				return registerFinish(t, ta, s, `{"id":"x","type":"public-key"`)
			},
			status: 400,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(t)
			s := ta.Session(t, ta.Admin)
			d := tc.device()
			var r *response
			if tc.answer != nil {
				r = tc.answer(t, ta, s, d)
			} else {
				_, opts := registerOptions(t, ta, s, "laptop")
				r = registerFinish(t, ta, s, d.attest(opts))
			}
			if r.Status != tc.status || !strings.Contains(ceremonyErrorOf(r), tc.message) {
				t.Errorf("status %d %q, want %d with %q", r.Status, ceremonyErrorOf(r), tc.status, tc.message)
			}
			if list := mustPasskeys(t, ta, ta.Admin.ID); len(list) != 0 {
				t.Errorf("a refused registration stored %+v", list)
			}
			if u, _ := ta.Store.User(ta.Admin.ID); u.Passkeys != 0 {
				t.Errorf("User.Passkeys = %d", u.Passkeys)
			}
		})
	}
}

func mustPasskeys(t testing.TB, ta *testApp, userID int) []model.Passkey {
	t.Helper()
	list, err := ta.Store.Passkeys(userID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestPasskeyRegistrationRules(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	bob := testkit.AddUser(t, ta.Store, "bob")
	s := ta.Session(t, ta.Admin)
	base := "/settings/users/"

	// Only for the own account.
	r := postCeremony(t, ta, base+strconv.Itoa(bob.ID)+"/passkeys/options", "application/x-www-form-urlencoded", "name=laptop", s, nil)
	if r.Status != fiber.StatusForbidden || !strings.Contains(ceremonyErrorOf(r), "Only bob can add a passkey") {
		t.Errorf("options for another user: %d %s", r.Status, r.Body)
	}
	r = postCeremony(t, ta, base+strconv.Itoa(bob.ID)+"/passkeys", "application/json", "{}", s, nil)
	if r.Status != fiber.StatusForbidden {
		t.Errorf("finish for another user: %d %s", r.Status, r.Body)
	}
	dlg := ta.Do(t, request{URL: base + strconv.Itoa(bob.ID) + "/passkeys", HTMX: true, Session: s})
	checkResponse(t, dlg, 200, []string{"Only bob can add a passkey", "No passkeys yet"}, []string{`id="passkey-register"`}, nil)

	// A name is required, checked before the ceremony.
	for _, name := range []string{"", "   ", strings.Repeat("x", 65), "a\x01b"} {
		r, _ := registerOptions(t, ta, s, name)
		if r.Status != fiber.StatusUnprocessableEntity || ceremonyErrorOf(r) == "" {
			t.Errorf("name %q: %d %s", name, r.Status, r.Body)
		}
	}

	// CSRF and a session are required.
	r = postCeremony(t, ta, base+strconv.Itoa(ta.Admin.ID)+"/passkeys/options", "application/x-www-form-urlencoded", "name=x", s, map[string]string{csrfHeader: "nope"})
	if r.Status != fiber.StatusForbidden {
		t.Errorf("options with a wrong CSRF token: %d", r.Status)
	}
	r = postCeremony(t, ta, base+strconv.Itoa(ta.Admin.ID)+"/passkeys/options", "application/x-www-form-urlencoded", "name=x", nil, nil)
	if r.Status != fiber.StatusUnauthorized && r.Status != fiber.StatusSeeOther {
		t.Errorf("options without a session: %d", r.Status)
	}
	// A cross-site request is refused (Origin check).
	r = postCeremony(t, ta, "/login/passkey/options", "application/x-www-form-urlencoded", "", nil, map[string]string{"Origin": "https://evil.example"})
	if r.Status != fiber.StatusForbidden {
		t.Errorf("cross-site login options: %d", r.Status)
	}

	// The same credential twice is refused.
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	d.register(t, ta, s, "laptop")
	_, opts := registerOptions(t, ta, s, "again")
	r = registerFinish(t, ta, s, d.attest(opts))
	if r.Status != fiber.StatusConflict {
		t.Errorf("same credential again: %d %s", r.Status, r.Body)
	}
}

func TestPasskeyLoginRefused(t *testing.T) {
	t.Parallel()
	type setup struct {
		ta *testApp
		d  *passkeyDevice
	}
	for _, tc := range []struct {
		name    string
		answer  func(t *testing.T, s setup) *response
		status  int
		message string
		audit   string // an audit action that must be recorded
	}{
		{
			name: "wrong origin",
			answer: func(t *testing.T, s setup) *response {
				s.d.rp.Origin = "http://evil.example:8080"
				return s.d.login(t, s.ta)
			},
			status: 401, message: "not accepted",
		},
		{
			name: "wrong RP ID",
			answer: func(t *testing.T, s setup) *response {
				s.d.rp.ID = "evil.example"
				return s.d.login(t, s.ta)
			},
			status: 401, message: "not accepted",
		},
		{
			name: "replayed challenge",
			answer: func(t *testing.T, s setup) *response {
				_, opts := loginOptions(t, s.ta, "")
				s.d.cred.Counter = 1
				answer := s.d.assert(opts)
				if r := loginFinish(t, s.ta, answer); r.Status != 200 {
					t.Fatalf("first login: %d %s", r.Status, r.Body)
				}
				return loginFinish(t, s.ta, answer)
			},
			status: 400, message: "already used",
		},
		{
			name: "replayed challenge with a fresh signature",
			answer: func(t *testing.T, s setup) *response {
				_, opts := loginOptions(t, s.ta, "")
				s.d.cred.Counter = 1
				if r := loginFinish(t, s.ta, s.d.assert(opts)); r.Status != 200 {
					t.Fatalf("first login: %d %s", r.Status, r.Body)
				}
				s.d.cred.Counter = 2
				return loginFinish(t, s.ta, s.d.assert(opts))
			},
			status: 400, message: "already used",
		},
		{
			name: "expired challenge",
			answer: func(t *testing.T, s setup) *response {
				_, opts := loginOptions(t, s.ta, "")
				s.ta.Clock.Advance(5*time.Minute + time.Second)
				return loginFinish(t, s.ta, s.d.assert(opts))
			},
			status: 400, message: "expired",
		},
		{
			name: "made-up challenge",
			answer: func(t *testing.T, s setup) *response {
				return loginFinish(t, s.ta, s.d.assert(&virtualwebauthn.AssertionOptions{Challenge: []byte("0123456789abcdef0123456789abcdef")}))
			},
			status: 400, message: "expired",
		},
		{
			name: "sign count goes backwards",
			answer: func(t *testing.T, s setup) *response {
				s.d.cred.Counter = 7
				if r := s.d.login(t, s.ta); r.Status != 200 {
					t.Fatalf("first login: %d %s", r.Status, r.Body)
				}
				s.d.cred.Counter = 3
				return s.d.login(t, s.ta)
			},
			status: 401, message: "counter went backwards", audit: model.EventPasskeyCloneRefused,
		},
		{
			name: "sign count does not advance",
			answer: func(t *testing.T, s setup) *response {
				s.d.cred.Counter = 7
				if r := s.d.login(t, s.ta); r.Status != 200 {
					t.Fatalf("first login: %d %s", r.Status, r.Body)
				}
				return s.d.login(t, s.ta)
			},
			status: 401, message: "counter went backwards", audit: model.EventPasskeyCloneRefused,
		},
		{
			name: "backup eligibility changed",
			answer: func(t *testing.T, s setup) *response {
				s.d.auth.Options.BackupEligible = true
				return s.d.login(t, s.ta)
			},
			status: 401, message: "not accepted",
		},
		{
			name: "no user verification",
			answer: func(t *testing.T, s setup) *response {
				s.d.auth.Options.UserNotVerified = true
				return s.d.login(t, s.ta)
			},
			status: 401, message: "not accepted",
		},
		{
			name: "another user's handle",
			answer: func(t *testing.T, s setup) *response {
				s.d.auth.Options.UserHandle = model.NewPasskeyHandle()
				return s.d.login(t, s.ta)
			},
			status: 401, message: "not accepted",
		},
		{
			name: "unknown credential",
			answer: func(t *testing.T, s setup) *response {
				other := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{UserHandle: s.d.auth.Options.UserHandle})
				return other.login(t, s.ta)
			},
			status: 401, message: "not registered",
		},
		{
			name: "deleted passkey",
			answer: func(t *testing.T, s setup) *response {
				if _, err := s.ta.Store.ClearPasskeys(s.ta.Admin.ID, model.CLIActor); err != nil {
					t.Fatal(err)
				}
				return s.d.login(t, s.ta)
			},
			status: 401, message: "not registered",
		},
		{
			name: "passkey of a deleted user",
			answer: func(t *testing.T, s setup) *response {
				testkit.AddUser(t, s.ta.Store, "bob")
				if err := s.ta.Store.DeleteUser(s.ta.Admin.ID, model.CLIActor); err != nil {
					t.Fatal(err)
				}
				return s.d.login(t, s.ta)
			},
			status: 401, message: "not registered",
		},
		{
			name: "a registration challenge used to log in",
			answer: func(t *testing.T, s setup) *response {
				_, ropts := registerOptions(t, s.ta, s.ta.Session(t, s.ta.Admin), "x")
				return loginFinish(t, s.ta, s.d.assert(&virtualwebauthn.AssertionOptions{Challenge: ropts.Challenge}))
			},
			status: 400, message: "expired",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(t)
			d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
			d.register(t, ta, ta.Session(t, ta.Admin), "laptop")
			passkeyLogins := func() int {
				n := 0
				for _, e := range ta.AuditEvents(t, model.EventLoginSucceeded) {
					if e.Detail == "passkey" {
						n++
					}
				}
				return n
			}
			r := tc.answer(t, setup{ta: ta, d: d})
			if r.Status != tc.status || !strings.Contains(ceremonyErrorOf(r), tc.message) {
				t.Errorf("status %d %q, want %d with %q", r.Status, ceremonyErrorOf(r), tc.status, tc.message)
			}
			if c := r.Cookie(sessionCookie); c != nil && c.Value != "" {
				t.Error("a refused passkey login set a session cookie")
			}
			if tc.audit != "" && len(ta.AuditEvents(t, tc.audit)) != 1 {
				t.Errorf("no %s event", tc.audit)
			}
			want := 0
			if strings.HasPrefix(tc.name, "sign count") || strings.HasPrefix(tc.name, "replayed") {
				want = 1 // the first, good login
			}
			if n := passkeyLogins(); n != want {
				t.Errorf("%d passkey logins recorded, want %d", n, want)
			}
		})
	}
}

func TestPasskeyBackupFlags(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	// A synced passkey that is not backed up yet (BE=1, BS=0).
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{BackupEligible: true})
	p := d.register(t, ta, s, "synced")
	if !p.BackupEligible || p.BackupState {
		t.Fatalf("stored flags: BE=%v BS=%v, want BE=1 BS=0", p.BackupEligible, p.BackupState)
	}
	// Backed up meanwhile: BS may change, and is stored.
	d.auth.Options.BackupState = true
	d.cred.Counter = 1
	if r := d.login(t, ta); r.Status != 200 {
		t.Fatalf("login with BS=1: %d %s", r.Status, r.Body)
	}
	p, _, _, _ = ta.Store.PasskeyByCredentialID(d.cred.ID)
	if !p.BackupEligible || !p.BackupState {
		t.Errorf("after login with BS=1: BE=%v BS=%v", p.BackupEligible, p.BackupState)
	}
	// BE never changes (WebAuthn §6.1.3): refused.
	d.auth.Options.BackupEligible, d.auth.Options.BackupState = false, false
	d.cred.Counter = 2
	if r := d.login(t, ta); r.Status != 401 {
		t.Errorf("login with BE=0 for a BE=1 passkey: %d %s", r.Status, r.Body)
	}
	// The invalid combination BE=0, BS=1 is refused at login too.
	d.auth.Options.BackupState = true
	d.cred.Counter = 3
	if r := d.login(t, ta); r.Status != 401 {
		t.Errorf("login with BE=0 BS=1: %d %s", r.Status, r.Body)
	}
	p, _, _, _ = ta.Store.PasskeyByCredentialID(d.cred.ID)
	if !p.BackupEligible || !p.BackupState || p.SignCount != 1 {
		t.Errorf("refused logins changed the passkey: %+v", p)
	}
}

func TestPasskeyDelete(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	bob := testkit.AddUser(t, ta.Store, "bob")
	admin := ta.Session(t, ta.Admin)
	bobs := ta.Session(t, bob)
	d1 := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	p1 := d1.register(t, ta, bobs, "bob laptop")
	d2 := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	p2 := d2.register(t, ta, bobs, "bob phone")
	if u, _ := ta.Store.User(bob.ID); u.Passkeys != 2 {
		t.Fatalf("count = %d", u.Passkeys)
	}
	base := "/settings/users/" + strconv.Itoa(bob.ID) + "/passkeys/"

	// An admin deletes another user's passkey (htmx; the form posts).
	r := ta.Do(t, request{Method: "POST", URL: base + p1.ID + "/delete", HTMX: true, Session: admin, CSRFHeader: admin.CSRF})
	checkResponse(t, r, 200, []string{"Passkey bob laptop deleted.", "bob phone"}, []string{`data-passkey-id="` + p1.ID}, map[string]string{"HX-Trigger": "gh-users-changed"})
	// DELETE works too; without CSRF it does not.
	r = ta.Do(t, request{Method: "DELETE", URL: base + p2.ID, HTMX: true, Session: admin})
	if r.Status != fiber.StatusForbidden {
		t.Errorf("DELETE without CSRF: %d", r.Status)
	}
	r = ta.Do(t, request{Method: "DELETE", URL: base + p2.ID, HTMX: true, Session: admin, CSRFHeader: admin.CSRF})
	checkResponse(t, r, 200, []string{"No passkeys yet"}, nil, nil)
	// Unknown ids and other users' passkeys are 404s.
	r = ta.Do(t, request{Method: "POST", URL: base + p2.ID + "/delete", HTMX: true, Session: admin, CSRFHeader: admin.CSRF})
	if r.Status != fiber.StatusNotFound {
		t.Errorf("deleting a deleted passkey: %d", r.Status)
	}
	d3 := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	p3 := d3.register(t, ta, admin, "admin key")
	r = ta.Do(t, request{Method: "POST", URL: base + p3.ID + "/delete", Session: admin, CSRFField: admin.CSRF})
	if r.Status != fiber.StatusNotFound {
		t.Errorf("deleting admin's passkey through bob's path: %d", r.Status)
	}
	// Without JavaScript: POST, then back to the dialog page.
	r = ta.Do(t, request{Method: "POST", URL: "/settings/users/" + strconv.Itoa(ta.Admin.ID) + "/passkeys/" + p3.ID + "/delete", Session: admin, CSRFField: admin.CSRF})
	if r.Status != fiber.StatusSeeOther || r.Header.Get("Location") != "/settings/users/"+strconv.Itoa(ta.Admin.ID)+"/passkeys" {
		t.Errorf("plain-form delete: %d %v", r.Status, r.Header)
	}

	if u, _ := ta.Store.User(bob.ID); u.Passkeys != 0 {
		t.Errorf("bob's count after deleting all = %d", u.Passkeys)
	}
	if ev := ta.AuditEvents(t, model.EventPasskeyDeleted); len(ev) != 3 || ev[0].ActorID != ta.Admin.ID || ev[0].TargetID != bob.ID {
		t.Errorf("deleted events: %+v", ev)
	}
	// A deleted passkey no longer signs in.
	d1.cred.Counter = 5
	if r := d1.login(t, ta); r.Status != 401 || !strings.Contains(ceremonyErrorOf(r), "not registered") {
		t.Errorf("login with a deleted passkey: %d %s", r.Status, r.Body)
	}
}

func TestPasskeyOtherRPID(t *testing.T) {
	t.Parallel()
	// A passkey made while the panel ran under another name is listed as
	// unusable, and cannot sign in.
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	handle := model.NewPasskeyHandle()
	old := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{UserHandle: handle})
	old.rp = virtualwebauthn.RelyingParty{ID: "old.example", Name: "Gatehouse", Origin: "https://old.example"}
	if _, err := ta.Store.AddPasskey(ta.Admin.ID, handle, model.Passkey{RPID: "old.example", Name: "old laptop",
		CredentialID: old.cred.ID, PublicKey: []byte{1}}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	dlg := ta.Do(t, request{URL: "/settings/users/" + strconv.Itoa(ta.Admin.ID) + "/passkeys", HTMX: true, Session: s})
	checkResponse(t, dlg, 200, []string{"old laptop", "unusable here: made for old.example", `class="unusable"`}, nil, nil)
	// The browser would not offer it; a forged answer under our RP ID fails.
	old.rp = testRP
	old.auth.AddCredential(old.cred)
	if r := old.login(t, ta); r.Status != 401 {
		t.Errorf("login with a passkey of another RP ID: %d %s", r.Status, r.Body)
	}
	// A new passkey under the current name works beside it.
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	d.register(t, ta, s, "new laptop")
	if h, _ := ta.Store.PasskeyHandle(ta.Admin.ID); string(h) != string(handle) {
		t.Error("the user handle changed")
	}
}

// TestPasskeyAvailability: passkeys are offered only where browsers allow
// them: not at a non-localhost plain-HTTP origin, not at 127.0.0.1.
func TestPasskeyAvailability(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opts      []func(*Config)
		host      string // request URL base
		headers   map[string]string
		available bool
		why       string
	}{
		{name: "localhost", host: publicURL, available: true},
		{name: "127.0.0.1 for a localhost panel", host: "http://127.0.0.1:8080", why: "browsers refuse passkeys at an IP address"},
		{name: "localhost on another port", host: "http://localhost:9000", why: "Open the panel at http://localhost:8080"},
		{
			name: "plain HTTP on a LAN name", host: "http://panel.lan:8080",
			opts: []func(*Config){func(c *Config) { c.PublicURL = "http://panel.lan:8080" }}, why: "Passkeys need HTTPS",
		},
		{
			name: "plain HTTP on an address", host: "http://192.0.2.10:8080",
			opts: []func(*Config){func(c *Config) { c.PublicURL = "http://192.0.2.10:8080" }}, why: "Passkeys need HTTPS",
		},
		{
			name: "https public URL without a trusted proxy", host: "http://localhost:8080",
			opts: []func(*Config){func(c *Config) { c.PublicURL = "https://panel.example.com" }}, why: "no --trusted-proxy",
		},
		{
			name: "behind a trusted proxy", host: "http://panel.example.com",
			opts:    []func(*Config){func(c *Config) { c.PublicURL = "https://panel.example.com" }, trustProxies("0.0.0.0/32")},
			headers: map[string]string{"X-Forwarded-Proto": "https"}, available: true,
		},
		{
			name: "proxy panel reached over plain HTTP", host: "http://panel.example.com",
			opts:    []func(*Config){func(c *Config) { c.PublicURL = "https://panel.example.com" }, trustProxies("0.0.0.0/32")},
			headers: map[string]string{"X-Forwarded-Proto": "http"}, why: "through its proxy",
		},
		{
			name: "certmagic domain reached without TLS", host: "http://panel.test:8443",
			opts: []func(*Config){func(c *Config) { c.PublicURL = "https://panel.test:8443"; c.Domains = []string{"panel.test"} }},
			why:  "over HTTPS at https://panel.test:8443",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(t, tc.opts...)
			s := ta.Session(t, ta.Admin)
			headers := map[string]string{}
			for k, v := range tc.headers {
				headers[k] = v
			}
			login := ta.Do(t, request{URL: tc.host + "/login", Headers: headers})
			dlg := ta.Do(t, request{URL: tc.host + "/settings/users/" + strconv.Itoa(ta.Admin.ID) + "/passkeys", HTMX: true, Session: s, Headers: headers})
			opts := postCeremony(t, ta, tc.host+"/login/passkey/options", "application/x-www-form-urlencoded", "", nil, headers)
			if tc.available {
				checkResponse(t, login, 200, []string{"Sign in with a passkey", `autocomplete="username webauthn"`}, nil, nil)
				checkResponse(t, dlg, 200, []string{`id="passkey-register"`}, []string{"not available"}, nil)
				if opts.Status != 200 {
					t.Errorf("login options: %d %s", opts.Status, opts.Body)
				}
				return
			}
			checkResponse(t, login, 200, nil, []string{"Sign in with a passkey", "passkey-login"}, nil)
			checkResponse(t, dlg, 200, []string{"Passkeys are not available at this address.", tc.why}, []string{`id="passkey-register"`}, nil)
			if opts.Status != fiber.StatusForbidden || !strings.Contains(ceremonyErrorOf(opts), tc.why) {
				t.Errorf("login options: %d %s", opts.Status, opts.Body)
			}
			reg := postCeremony(t, ta, tc.host+"/settings/users/"+strconv.Itoa(ta.Admin.ID)+"/passkeys/options", "application/x-www-form-urlencoded", "name=x", s, headers)
			if reg.Status != fiber.StatusConflict {
				t.Errorf("registration options: %d %s", reg.Status, reg.Body)
			}
		})
	}
}

// TestPasskeyBehindProxy registers and signs in through a TLS-terminating
// proxy: RP ID and origin from --public-url, whatever Host the proxy sends.
func TestPasskeyBehindProxy(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, func(c *Config) { c.PublicURL = "https://panel.example.com" }, trustProxies("0.0.0.0/32"))
	s := ta.Session(t, ta.Admin)
	rp := virtualwebauthn.RelyingParty{ID: "panel.example.com", Name: "Gatehouse", Origin: "https://panel.example.com"}
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	d.rp = rp
	hdr := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "Origin": "https://panel.example.com"}
	r := postCeremony(t, ta, "http://127.0.0.1:8080/settings/users/"+strconv.Itoa(ta.Admin.ID)+"/passkeys/options", "application/x-www-form-urlencoded", "name=laptop", s, hdr)
	opts, err := virtualwebauthn.ParseAttestationOptions(r.Body)
	if r.Status != 200 || err != nil || opts.RelyingPartyID != "panel.example.com" {
		t.Fatalf("options: %d %s", r.Status, r.Body)
	}
	r = postCeremony(t, ta, "http://127.0.0.1:8080/settings/users/"+strconv.Itoa(ta.Admin.ID)+"/passkeys", "application/json", d.attest(opts), s, hdr)
	if r.Status != fiber.StatusCreated {
		t.Fatalf("finish: %d %s", r.Status, r.Body)
	}
	d.auth.AddCredential(d.cred)
	r = postCeremony(t, ta, "http://127.0.0.1:8080/login/passkey/options", "application/x-www-form-urlencoded", "", nil, hdr)
	lopts, err := virtualwebauthn.ParseAssertionOptions(r.Body)
	if err != nil {
		t.Fatalf("login options: %d %s", r.Status, r.Body)
	}
	d.cred.Counter = 1
	r = postCeremony(t, ta, "http://127.0.0.1:8080/login/passkey", "application/json", d.assert(lopts), nil, hdr)
	if r.Status != 200 || r.Cookie(hostSessionCookie) == nil || !r.Cookie(hostSessionCookie).Secure {
		t.Fatalf("login: %d %s %v", r.Status, r.Body, r.Cookies)
	}
	if ev := ta.AuditEvents(t, model.EventPasskeyUsed); len(ev) != 1 || ev[0].IP != "203.0.113.9" {
		t.Errorf("used events: %+v", ev)
	}
}

func TestPasskeyAPIAndCLI(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	alice := testkit.AddUser(t, ta.Store, "alice")
	s := ta.Session(t, alice)
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	p := d.register(t, ta, s, "laptop")

	r := ta.Do(t, request{URL: "/api/v1/users/" + strconv.Itoa(alice.ID) + "/passkeys", Session: s})
	checkResponse(t, r, 200, []string{`"id":"` + p.ID + `"`, `"name":"laptop"`, `"last_used_at":null`, `"created_at":"` + p.CreatedAt.Format(time.RFC3339) + `"`}, []string{"public", "PublicKey", "credential"}, nil)
	r = ta.Do(t, request{URL: "/api/v1/users/" + strconv.Itoa(alice.ID), Session: s})
	checkResponse(t, r, 200, []string{`"passkeys":1`}, nil, nil)
	r = ta.Do(t, request{Method: "DELETE", URL: "/api/v1/users/" + strconv.Itoa(alice.ID) + "/passkeys/" + p.ID, Session: s, CSRFHeader: s.CSRF})
	if r.Status != fiber.StatusNoContent {
		t.Fatalf("API delete: %d %s", r.Status, r.Body)
	}
	if u, _ := ta.Store.User(alice.ID); u.Passkeys != 0 {
		t.Errorf("count after API delete = %d", u.Passkeys)
	}

	// gatehouse user passkeys-clear NAME
	d2 := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	d2.register(t, ta, s, "one")
	d3 := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	d3.register(t, ta, s, "two")
	res := cli.Exec(context.Background(), ta.Store, control.Request{Command: "user passkeys-clear", Args: []string{"alice"}})
	if res.Code != 0 || res.Stdout != "2 passkeys of alice deleted\n" {
		t.Errorf("passkeys-clear: %+v", res)
	}
	res = cli.Exec(context.Background(), ta.Store, control.Request{Command: "user passkeys-clear", Args: []string{"alice"}})
	if res.Code != 0 || res.Stdout != "alice had no passkeys\n" {
		t.Errorf("passkeys-clear again: %+v", res)
	}
	res = cli.Exec(context.Background(), ta.Store, control.Request{Command: "user passkeys-clear", Args: []string{"nobody"}})
	if res.Code != 1 || !strings.Contains(res.Stderr, `no user named "nobody"`) {
		t.Errorf("passkeys-clear of an unknown user: %+v", res)
	}
	if ev := ta.AuditEvents(t, model.EventPasskeyDeleted); len(ev) != 3 || ev[2].Actor != "cli" {
		t.Errorf("deleted events: %+v", ev)
	}
	d2.cred.Counter = 1
	if r := d2.login(t, ta); r.Status != 401 {
		t.Errorf("login after passkeys-clear: %d", r.Status)
	}
}

// FuzzPasskeyAnswers sends arbitrary bodies as passkey answers: the
// parsing of outside JSON (base64url, CBOR inside) must end in a 4xx,
// never a 5xx or a panic, and never in a session or a stored passkey.
func FuzzPasskeyAnswers(f *testing.F) {
	ta := newTestApp(f, func(c *Config) {
		lc := throttle.DefaultConfig()
		lc.IPFree = 1 << 30 // the fuzzer is one address
		c.Limiter = &lc
	})
	s := ta.Session(f, ta.Admin)
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	// Genuine answers, used once here: as seeds they are replays.
	_, ropts := registerOptions(f, ta, s, "seed")
	reg := d.attest(ropts)
	if r := registerFinish(f, ta, s, reg); r.Status != fiber.StatusCreated {
		f.Fatalf("seed registration: %d %s", r.Status, r.Body)
	}
	d.auth.AddCredential(d.cred)
	d.cred.Counter = 1
	_, lopts := loginOptions(f, ta, "")
	login := d.assert(lopts)
	if r := loginFinish(f, ta, login); r.Status != fiber.StatusOK {
		f.Fatalf("seed login: %d %s", r.Status, r.Body)
	}
	f.Add(false, reg)
	f.Add(true, login)
	f.Add(true, `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`)
	f.Add(false, `{"response":{"attestationObject":"oA","clientDataJSON":"bnVsbA"}}`)
	f.Add(true, "\xff\xfe")
	f.Fuzz(func(t *testing.T, login bool, body string) {
		var r *response
		if login {
			r = loginFinish(t, ta, body)
		} else {
			r = registerFinish(t, ta, s, body)
		}
		if r.Status < 400 || r.Status >= 500 {
			t.Fatalf("status %d for %q: %s", r.Status, body, r.Body)
		}
		if c := r.Cookie(sessionCookie); c != nil {
			t.Fatalf("a session for %q", body)
		}
	})
}

// TestPasskeyLoginThrottle: passkey answers count like password guesses
// of their address. Each answer is charged before it is checked and a
// verified one is refunded, so signing in many times costs nothing; after
// the free failures the address waits, with 429 and Retry-After, for the
// next answer and for a new start alike.
func TestPasskeyLoginThrottle(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	d.register(t, ta, ta.Session(t, ta.Admin), "laptop")
	login := func() *response {
		t.Helper()
		d.cred.Counter++
		return d.login(t, ta)
	}
	free := throttle.DefaultConfig().IPFree
	for i := range 3 * free {
		if r := login(); r.Status != fiber.StatusOK {
			t.Fatalf("sign-in %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	for i := 0; i <= free; i++ {
		if r := loginFinish(t, ta, `{"id":"AA"}`); r.Status != fiber.StatusBadRequest {
			t.Fatalf("unreadable answer %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	const msg = "Too many failed attempts. Try again in 1 second."
	r, _ := loginOptions(t, ta, "")
	if r.Status != fiber.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" || ceremonyErrorOf(r) != msg {
		t.Fatalf("start from a throttled address: %d, Retry-After %q, %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	r = loginFinish(t, ta, `{"id":"AA"}`)
	if r.Status != fiber.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" || ceremonyErrorOf(r) != msg {
		t.Fatalf("answer from a throttled address: %d, Retry-After %q, %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	ta.Clock.Advance(time.Second)
	if r := login(); r.Status != fiber.StatusOK {
		t.Fatalf("sign-in after the wait: %d %s", r.Status, r.Body)
	}
}

// startLoginFrom starts a passkey login through a real client (see
// clientFrom) at the listener base. The Host header names the panel's
// public URL, where passkeys are available.
func startLoginFrom(t *testing.T, c *http.Client, base string) *response {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/login/passkey/options", strings.NewReader(url.Values{"next": {""}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = strings.TrimPrefix(publicURL, "http://")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST /login/passkey/options: %v", err)
	}
	return readResponse(t, resp)
}

// wantLoginStart checks the answer to a passkey login start: the status, and
// for 429 the Retry-After and the message.
func wantLoginStart(t *testing.T, r *response, status int, retry string) {
	t.Helper()
	if r.Status != status || r.Header.Get("Retry-After") != retry {
		t.Fatalf("start: status %d, Retry-After %q; want %d, %q (%s)", r.Status, r.Header.Get("Retry-After"), status, retry, trimBody(r.Body))
	}
	if status != fiber.StatusTooManyRequests {
		return
	}
	secs, _ := strconv.Atoi(retry)
	wait := humanDuration(time.Duration(secs) * time.Second)
	if want := msgTooManyPasskeyStarts + " Try again in " + wait + "."; ceremonyErrorOf(r) != want {
		t.Fatalf("429 message %q, want %q", ceremonyErrorOf(r), want)
	}
}

// TestPasskeyLoginStartsThrottled checks the rate at which one address may
// start passkey logins, not only a burst: each start holds a server-side
// challenge for minutes, and a flood would push real users' challenges
// out. Over a real listener (app.Test's peer is always 0.0.0.0), 30 starts
// spread over a minute from one address pass, the 31st within that minute
// is refused with 429 and Retry-After, another address still starts, and
// from then on the first may start again as its old starts leave the
// window. The starts are not failures: 30 of them do not throttle the
// address's password logins.
func TestPasskeyLoginStartsThrottled(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	base := serveApp(t, ta)
	busy := clientFrom(t, "127.0.0.2")
	other := clientFrom(t, "127.0.0.3")
	for i := range 30 {
		if i > 0 {
			ta.Clock.Advance(2 * time.Second) // at 0s, 2s, …, 58s
		}
		wantLoginStart(t, startLoginFrom(t, busy, base), fiber.StatusOK, "")
	}
	ta.Clock.Advance(time.Second) // 59s: the first start is 59s old
	wantLoginStart(t, startLoginFrom(t, busy, base), fiber.StatusTooManyRequests, "1")
	wantLoginStart(t, startLoginFrom(t, other, base), fiber.StatusOK, "")
	ta.Clock.Advance(time.Second) // 60s: the first start left the window
	wantLoginStart(t, startLoginFrom(t, busy, base), fiber.StatusOK, "")
	wantLoginStart(t, startLoginFrom(t, busy, base), fiber.StatusTooManyRequests, "2")
	ta.Clock.Advance(time.Minute) // all of them left the window
	for range 30 {
		wantLoginStart(t, startLoginFrom(t, busy, base), fiber.StatusOK, "")
	}
	wantLoginStart(t, startLoginFrom(t, busy, base), fiber.StatusTooManyRequests, "60")
	postLogin(t, busy, base, "admin", testkit.AdminPassword, fiber.StatusSeeOther, "")
}

// TestPasskeyLoginStartsPerPrefix: behind a trusted proxy, the limit holds
// for the forwarded client, and an IPv6 client is one /64: rotating the
// low bits of its address gets it nothing, while the next /64 is another
// client.
func TestPasskeyLoginStartsPerPrefix(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, trustTestPeer)
	start := func(client string) *response {
		t.Helper()
		return postCeremony(t, ta, "/login/passkey/options", "application/x-www-form-urlencoded", "next=", nil,
			map[string]string{"X-Forwarded-For": client})
	}
	for i := range 30 {
		wantLoginStart(t, start(fmt.Sprintf("2001:db8:1:2::%x", i+1)), fiber.StatusOK, "")
	}
	wantLoginStart(t, start("2001:db8:1:2:ffff:ffff:ffff:ffff"), fiber.StatusTooManyRequests, "60")
	wantLoginStart(t, start("2001:db8:1:3::1"), fiber.StatusOK, "")
	wantLoginStart(t, start("198.51.100.1"), fiber.StatusOK, "")
}

// TestPasskeyHostileOriginAudited: the origin in a passkey answer is the
// client's to choose, and the reason a refused login is audited with
// quotes it. A 10 KB origin full of NUL bytes, bidi overrides and terminal
// escapes reaches the audit log bounded and with every such character
// escaped.
func TestPasskeyHostileOriginAudited(t *testing.T) {
	ta := newTestApp(t)
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	d.register(t, ta, ta.Session(t, ta.Admin), "laptop")
	d.rp.Origin = "http://evil.example/" + strings.Repeat("\x00\u202e\x1b[2J\u200b", 1000)
	if len(d.rp.Origin) < 10000 {
		t.Fatalf("origin is only %d bytes", len(d.rp.Origin))
	}
	if r := d.login(t, ta); r.Status != 401 {
		t.Fatalf("login with a hostile origin: %d %s", r.Status, r.Body)
	}
	ev := ta.AuditEvents(t, model.EventLoginFailed)
	if len(ev) != 1 {
		t.Fatalf("login.failed events = %d, want 1", len(ev))
	}
	detail := ev[0].Detail
	if !strings.Contains(detail, "evil.example") {
		t.Errorf("the detail does not say which origin was sent: %q", detail)
	}
	if len(detail) > model.AuditDetailMaxLen || !utf8.ValidString(detail) {
		t.Errorf("detail of %d bytes (valid UTF-8: %v)", len(detail), utf8.ValidString(detail))
	}
	for _, r := range detail {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Fatalf("detail holds %U: %+q", r, detail)
		}
	}
}

// TestPasskeyTwoDialogsBeforeFirstPasskey: two registrations started
// before the user's first passkey (two tabs, or a dialog opened twice) use
// the same user handle, so both finish, both passkeys sign in, and the
// handle never changes afterwards. With a handle per dialog the second
// finish was refused (409) and left a passkey on the device that could
// never sign in.
func TestPasskeyTwoDialogsBeforeFirstPasskey(t *testing.T) {
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	laptop := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	phone := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	r, first := registerOptions(t, ta, s, "laptop")
	if first == nil {
		t.Fatalf("first options: %d %s", r.Status, r.Body)
	}
	r, second := registerOptions(t, ta, s, "phone")
	if second == nil {
		t.Fatalf("second options: %d %s", r.Status, r.Body)
	}
	if first.UserID != second.UserID {
		t.Errorf("the two dialogs got two user handles")
	}
	for _, x := range []struct {
		d    *passkeyDevice
		opts *virtualwebauthn.AttestationOptions
	}{{laptop, first}, {phone, second}} {
		if r := registerFinish(t, ta, s, x.d.attest(x.opts)); r.Status != fiber.StatusCreated {
			t.Fatalf("finish: %d %s", r.Status, r.Body)
		}
		x.d.auth.AddCredential(x.d.cred)
	}
	if n := len(mustPasskeys(t, ta, ta.Admin.ID)); n != 2 {
		t.Fatalf("%d passkeys stored, want 2", n)
	}
	for name, d := range map[string]*passkeyDevice{"laptop": laptop, "phone": phone} {
		if r := d.login(t, ta); r.Status != 200 {
			t.Errorf("login with the %s: %d %s", name, r.Status, r.Body)
		}
	}
	handle, err := ta.Store.PasskeyHandle(ta.Admin.ID)
	if err != nil || string(handle) != first.UserID {
		t.Fatalf("stored handle %x, %v; want the one both dialogs used", handle, err)
	}
	// Neither a later registration nor removing every passkey changes it.
	newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{}).register(t, ta, s, "key")
	if _, err := ta.Store.ClearPasskeys(ta.Admin.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	_, again := registerOptions(t, ta, s, "laptop again")
	if again == nil || again.UserID != first.UserID {
		t.Errorf("the user handle changed after the passkeys were removed")
	}
}
