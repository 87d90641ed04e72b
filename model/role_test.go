package model_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func ptr[T any](v T) *T { return &v }

// TestStoredUserWithoutRoleIsAdmin: a record written before roles existed
// has no Role and reads as an admin, since every user managed everyone.
func TestStoredUserWithoutRoleIsAdmin(t *testing.T) {
	s := testkit.NewStore(t)
	testkit.CreateUser(t, s, "root", "password1", "root@example.com")
	u := testkit.CreateMember(t, s, "alice")
	key, rec := userRecord(t, s, u.ID)
	delete(rec, "Role")
	delete(rec, "Disabled")
	delete(rec, "LastLoginAt")
	old, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bolt().Update(func(btx *bolt.Tx) error { return btx.Bucket([]byte("User")).Put(key, old) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.User(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Role != model.RoleAdmin || got.Disabled {
		t.Fatalf("old record read as role %q, disabled %v; want admin, enabled", got.Role, got.Disabled)
	}
}

// TestFirstUserIsAdmin: the first user is an admin whatever was asked;
// later users are members unless asked otherwise.
func TestFirstUserIsAdmin(t *testing.T) {
	ctx := context.Background()
	s := testkit.NewStore(t)
	first, err := s.CreateUser(ctx, model.NewUser{Username: "first", Password: "password1", Email: "f@example.com", Role: model.RoleMember}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.CreateUser(ctx, model.NewUser{Username: "second", Password: "password1", Email: "s@example.com"}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	third, err := s.CreateUser(ctx, model.NewUser{Username: "third", Password: "password1", Email: "t@example.com", Role: model.RoleAdmin}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	if first.Role != model.RoleAdmin || second.Role != model.RoleMember || third.Role != model.RoleAdmin {
		t.Fatalf("roles %q %q %q; want admin member admin", first.Role, second.Role, third.Role)
	}
	_, err = s.CreateUser(ctx, model.NewUser{Username: "fourth", Password: "password1", Email: "x@example.com", Role: "root"}, model.CLIActor)
	if v, ok := model.AsValidation(err); !ok || v.Fields["role"] == "" {
		t.Fatalf("role root: %v; want a validation error on role", err)
	}
	s2 := testkit.NewStore(t)
	if _, _, err := s2.EnsureAdmin(ctx, "password1"); err != nil {
		t.Fatal(err)
	}
	if admin, _ := s2.UserByName("admin"); admin.Role != model.RoleAdmin {
		t.Fatalf("EnsureAdmin made role %q", admin.Role)
	}
}

// TestLastEnabledAdmin: demoting, disabling or deleting the last enabled
// admin is ErrLastAdmin and changes nothing; with a second admin it works,
// and each change is audited.
func TestLastEnabledAdmin(t *testing.T) {
	s := testkit.NewStore(t)
	admin := testkit.CreateUser(t, s, "admin", "password1", "admin@example.com")
	member := testkit.CreateMember(t, s, "alice")
	for name, change := range map[string]func() error{
		"demote": func() error {
			_, err := s.UpdateUser(admin.ID, model.UserPatch{Role: ptr(model.RoleMember)}, model.CLIActor)
			return err
		},
		"disable": func() error {
			_, err := s.UpdateUser(admin.ID, model.UserPatch{Disabled: ptr(true)}, model.CLIActor)
			return err
		},
		"delete": func() error { return s.DeleteUser(admin.ID, model.CLIActor) },
	} {
		if err := change(); !errors.Is(err, model.ErrLastAdmin) {
			t.Fatalf("%s the last admin: %v; want ErrLastAdmin", name, err)
		}
	}
	if got, _ := s.User(admin.ID); got.Role != model.RoleAdmin || got.Disabled {
		t.Fatalf("refused changes changed the admin: %+v", got)
	}
	if _, err := s.UpdateUser(member.ID, model.UserPatch{Role: ptr(model.RoleAdmin)}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(admin.ID, model.UserPatch{Disabled: ptr(true)}, model.CLIActor); err != nil {
		t.Fatalf("disable one of two admins: %v", err)
	}
	if _, err := s.UpdateUser(admin.ID, model.UserPatch{Disabled: ptr(false)}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{model.EventRoleChanged, model.EventUserDisabled, model.EventUserEnabled} {
		if len(eventsWith(t, s, ev)) != 1 {
			t.Fatalf("want one %s event, got %v", ev, eventsWith(t, s, ev))
		}
	}
}

// TestLastAdminUnderRace: 20 concurrent demotions, disables and deletes
// across two admins leave exactly one enabled admin.
func TestLastAdminUnderRace(t *testing.T) {
	s := testkit.NewStore(t)
	a := testkit.CreateUser(t, s, "admin1", "password1", "a1@example.com")
	b := testkit.CreateUser(t, s, "admin2", "password1", "a2@example.com")
	testkit.CreateMember(t, s, "alice") // keeps the last-user rule out of the way
	var wg sync.WaitGroup
	var mu sync.Mutex
	done, refused := 0, 0
	for i := range 20 {
		id := []int{a.ID, b.ID}[i%2]
		wg.Go(func() {
			var err error
			switch i % 3 {
			case 0:
				_, err = s.UpdateUser(id, model.UserPatch{Role: ptr(model.RoleMember)}, model.CLIActor)
			case 1:
				_, err = s.UpdateUser(id, model.UserPatch{Disabled: ptr(true)}, model.CLIActor)
			default:
				err = s.DeleteUser(id, model.CLIActor)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				done++
			case errors.Is(err, model.ErrLastAdmin), errors.Is(err, model.ErrNotFound):
				refused++
			default:
				t.Errorf("user %d: %v", id, err)
			}
		})
	}
	wg.Wait()
	us, err := s.Users()
	if err != nil {
		t.Fatal(err)
	}
	enabledAdmins := 0
	for _, u := range us {
		if u.IsAdmin() && !u.Disabled {
			enabledAdmins++
		}
	}
	t.Logf("20 racing changes: %d applied, %d refused; %d enabled admin(s) left", done, refused, enabledAdmins)
	if enabledAdmins != 1 {
		t.Fatalf("%d enabled admins left; want exactly 1", enabledAdmins)
	}
}

// TestDisabledUserRefusedEverywhere: disabling refuses the password, an
// open session (ended in the same change), a token and the 2FA step;
// enabling restores sign-in.
func TestDisabledUserRefusedEverywhere(t *testing.T) {
	ctx := context.Background()
	s := testkit.NewStore(t)
	testkit.CreateUser(t, s, "admin", "password1", "admin@example.com")
	u := testkit.CreateMember(t, s, "alice")
	cookie, _, err := s.CreateSession(u.ID, "192.0.2.1", "test", model.ActorFor(u, "192.0.2.1"), "password")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.User(u.ID); got.LastLoginAt.IsZero() {
		t.Fatal("signing in did not record LastLoginAt")
	}
	tok, _, err := s.CreateToken(u.ID, model.NewToken{ExpiresAt: time.Now().Add(time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	policy := model.SessionPolicy{Idle: time.Hour, Max: time.Hour}
	if _, _, err := s.TokenByValue(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(u.ID, model.UserPatch{Disabled: ptr(true)}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionByToken(cookie, policy); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("session of a disabled user: %v", err)
	}
	if ss, _ := s.SessionsOf(u.ID); len(ss) != 0 {
		t.Fatalf("disabling left %d sessions", len(ss))
	}
	if _, _, err := s.TokenByValue(tok); !errors.Is(err, model.ErrSignInRefused) {
		t.Fatalf("token of a disabled user: %v", err)
	}
	if _, err := s.Authenticate(ctx, "alice", testkit.UserPassword); !errors.Is(err, model.ErrSignInRefused) {
		t.Fatalf("password of a disabled user: %v", err)
	}
	if _, err := s.UserForSignIn(u.ID); !errors.Is(err, model.ErrSignInRefused) {
		t.Fatalf("2FA step of a disabled user: %v", err)
	}
	if _, _, err := s.CreateSession(u.ID, "192.0.2.1", "test", model.ActorFor(u, "192.0.2.1"), "password"); !errors.Is(err, model.ErrSignInRefused) {
		t.Fatalf("new session for a disabled user: %v", err)
	}
	if _, err := s.UpdateUser(u.ID, model.UserPatch{Disabled: ptr(false)}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", testkit.UserPassword); err != nil {
		t.Fatalf("password after enabling: %v", err)
	}
}
