// Package testkit is what the tests of every Gatehouse package share: a
// clock the test moves by hand, cheap argon2id parameters, a store in
// t.TempDir(), users with or without two-factor authentication, the
// programs a test cannot do without (Need), and the gatehouse binary
// built once per test process (Binary).
//
// It lives beside model so that every package of the module may import
// it; model's own tests use it from the external test package model_test.
// Nothing outside tests imports it.
package testkit

import (
	"context"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
)

const (
	// AdminPassword is the password tests give the user admin.
	AdminPassword = "admin-pass-1"
	// UserPassword is the password AddUser gives.
	UserPassword = "user-pass-1"
)

// Argon2 returns cheap argon2id parameters (64 KiB, one pass): hashing
// under -race stays fast. Each call returns a fresh copy that the caller
// may change.
func Argon2() *model.Argon2Params {
	return &model.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// StoreOptions are the options of a test store: created when missing,
// with cheap hashing; each option may change them (a clock, a bound).
func StoreOptions(opts ...func(*model.Options)) model.Options {
	o := model.Options{Create: true, Argon2: Argon2()}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithClock is a StoreOptions option: the store reads c.
func WithClock(c *Clock) func(*model.Options) {
	return func(o *model.Options) { o.Now = c.Now }
}

// OpenStore opens the store in dir with StoreOptions(opts...), creating it
// when missing; it is closed when the test ends (closing it earlier is
// fine: a second Close does nothing).
func OpenStore(t testing.TB, dir string, opts ...func(*model.Options)) *model.Store {
	t.Helper()
	s, err := model.Open(dir, StoreOptions(opts...))
	if err != nil {
		t.Fatalf("open the store in %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NewStore opens a fresh store in a new t.TempDir().
func NewStore(t testing.TB, opts ...func(*model.Options)) *model.Store {
	t.Helper()
	return OpenStore(t, t.TempDir(), opts...)
}

// CreateUser creates an admin in s, as an operator would with the command
// line (audited as "cli"), or fails the test. Admins, because the tests
// written before roles have every user manage every user; CreateMember
// makes a member.
func CreateUser(t testing.TB, s *model.Store, name, password, email string) model.User {
	t.Helper()
	return createUser(t, s, model.NewUser{Username: name, Password: password, Email: email, Role: model.RoleAdmin})
}

// CreateMember creates the member name with UserPassword and
// name@example.com, or fails the test.
func CreateMember(t testing.TB, s *model.Store, name string) model.User {
	t.Helper()
	return createUser(t, s, model.NewUser{Username: name, Password: UserPassword, Email: name + "@example.com", Role: model.RoleMember})
}

func createUser(t testing.TB, s *model.Store, in model.NewUser) model.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), in, model.CLIActor)
	if err != nil {
		t.Fatalf("create user %q: %v", in.Username, err)
	}
	return u
}

// AddUser creates the user name with UserPassword and name@example.com.
func AddUser(t testing.TB, s *model.Store, name string) model.User {
	t.Helper()
	return CreateUser(t, s, name, UserPassword, name+"@example.com")
}

// EnableTwoFactor turns two-factor authentication on for u, as the
// enrolment dialog does: a new secret at the store's clock, confirmed with
// the code of the current time step. It returns the enrolment (its Secret
// is base32) and the recovery codes.
func EnableTwoFactor(t testing.TB, s *model.Store, u model.User) (model.TOTPEnrollment, []string) {
	t.Helper()
	now := s.Now()
	e, err := model.NewTOTPEnrollment(u, now)
	if err != nil {
		t.Fatalf("2FA enrolment of %s: %v", u.Username, err)
	}
	code, err := model.TOTPCode(e.Secret, model.TOTPStep(now))
	if err != nil {
		t.Fatalf("2FA code of %s: %v", u.Username, err)
	}
	codes, err := s.EnableTwoFactor(e, code, model.ActorFor(u, "192.0.2.1"))
	if err != nil {
		t.Fatalf("turn 2FA on for %s: %v", u.Username, err)
	}
	return e, codes
}
