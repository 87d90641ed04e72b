package model_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func TestCreateListGetUsers(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	ctx := context.Background()
	names := []string{"alice", "Bob", "carol_9"}
	var created []model.User
	for i, n := range names {
		clock.Advance(time.Minute)
		u, err := s.CreateUser(ctx, model.NewUser{Username: n, Password: "password1", Email: n + "@example.com"}, model.CLIActor)
		if err != nil {
			t.Fatalf("CreateUser(%q): %v", n, err)
		}
		if u.ID == 0 || (i > 0 && u.ID <= created[i-1].ID) {
			t.Fatalf("user %q got id %d", n, u.ID)
		}
		if !u.CreatedAt.Equal(clock.Now()) || !u.PasswordChangedAt.Equal(clock.Now()) || u.CreatedAt.Location() != time.UTC {
			t.Fatalf("times %v / %v, want %v in UTC", u.CreatedAt, u.PasswordChangedAt, clock.Now())
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Fatalf("PasswordHash %q", u.PasswordHash)
		}
		created = append(created, u)
	}
	list, err := s.Users()
	if err != nil || len(list) != len(names) {
		t.Fatalf("Users() = %d users, %v", len(list), err)
	}
	for i, u := range list {
		if u.ID != created[i].ID || u.Username != names[i] || u.Email != names[i]+"@example.com" {
			t.Errorf("Users()[%d] = %+v, want %+v", i, u, created[i])
		}
	}
	t.Run("by id", func(t *testing.T) {
		u, err := s.User(created[1].ID)
		if err != nil || u.Username != "Bob" || u.PasswordHash != created[1].PasswordHash {
			t.Fatalf("User(%d) = %+v, %v", created[1].ID, u, err)
		}
		if _, err := s.User(9999); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("User(9999) = %v, want ErrNotFound", err)
		}
	})
	for _, name := range []string{"Bob", "bob", "BOB"} {
		t.Run("by name "+name, func(t *testing.T) {
			u, err := s.UserByName(name)
			if err != nil || u.ID != created[1].ID || u.Username != "Bob" {
				t.Fatalf("UserByName(%q) = %+v, %v", name, u, err)
			}
		})
	}
	t.Run("unknown name", func(t *testing.T) {
		if _, err := s.UserByName("nobody"); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("UserByName(nobody) = %v, want ErrNotFound", err)
		}
	})
}

func TestCreateUserValidation(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	tests := []struct {
		name  string
		in    model.NewUser
		field string
	}{
		{"short username", model.NewUser{"ab", "password1", "a@example.com", ""}, "username"},
		{"bad username char", model.NewUser{"a b", "password1", "a@example.com", ""}, "username"},
		{"short password", model.NewUser{"alice", "pass1", "a@example.com", ""}, "password"},
		{"one class password", model.NewUser{"alice", "password", "a@example.com", ""}, "password"},
		{"bad email", model.NewUser{"alice", "password1", "Alice <a@example.com>", ""}, "email"},
		{"empty email", model.NewUser{"alice", "password1", "", ""}, "email"},
		{"taken name", model.NewUser{"bob", "password1", "b2@example.com", ""}, "username"},
		{"taken name other case", model.NewUser{"BoB", "password1", "b2@example.com", ""}, "username"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(allEvents(t, s))
			_, err := s.CreateUser(context.Background(), tc.in, model.CLIActor)
			wantField(t, err, tc.field)
			if tc.name[:5] == "taken" && !errors.Is(err, model.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			if us, _ := s.Users(); len(us) != 1 {
				t.Fatalf("%d users after a refused create", len(us))
			}
			if n := len(allEvents(t, s)); n != before {
				t.Fatalf("audit events %d → %d after a refused create", before, n)
			}
		})
	}
}

// race runs f(0) … f(n-1) in n goroutines released at the same moment, so
// that they really contend, and returns their errors by i.
func race(n int, f func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// Twenty goroutines create the same name (in different cases): the check
// and the save run in one write transaction, so exactly one wins.
func TestUniqueUsernameUnderConcurrentCreates(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	const n = 20
	errs := race(n, func(i int) error {
		name := "racer"
		if i%2 == 1 {
			name = "Racer"
		}
		_, err := createRetry(s, model.NewUser{Username: name, Password: "password1", Email: fmt.Sprintf("r%d@example.com", i)}, model.CLIActor)
		return err
	})
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, model.ErrConflict):
			wantField(t, err, "username")
		default:
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", ok)
	}
	if us, _ := s.Users(); len(us) != 1 {
		t.Fatalf("%d users stored, want 1", len(us))
	}
	if ev := eventsWith(t, s, model.EventUserCreated); len(ev) != 1 {
		t.Fatalf("%d user.created events, want 1", len(ev))
	}
}

// Fifty goroutines race to delete all fifty users: the count check and the
// delete share one transaction, so exactly one user survives.
func TestLastUserInvariantUnderRace(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	const n = 50
	ids := make([]int, n)
	for i := range n {
		ids[i] = testkit.CreateUser(t, s, fmt.Sprintf("user%02d", i), "password1", fmt.Sprintf("u%d@example.com", i)).ID
	}
	errs := race(n, func(i int) error { return s.DeleteUser(ids[i], model.CLIActor) })
	deleted, refused := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, model.ErrLastUser):
			refused++
		default:
			t.Errorf("delete %d: %v", ids[i], err)
		}
	}
	us, err := s.Users()
	if err != nil || len(us) != 1 || deleted != n-1 || refused != 1 {
		t.Fatalf("deleted %d, refused %d, %d users left (%v); want 49, 1, 1", deleted, refused, len(us), err)
	}
	if ev := eventsWith(t, s, model.EventUserDeleted); len(ev) != n-1 {
		t.Fatalf("%d user.deleted events, want %d", len(ev), n-1)
	}
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	a := testkit.CreateUser(t, s, "alice", "password1", "a@example.com")
	b := testkit.CreateUser(t, s, "bob", "password1", "b@example.com")
	tests := []struct {
		name string
		id   int
		want error
	}{
		{"unknown", 999, model.ErrNotFound},
		{"one of two", a.ID, nil},
		{"already deleted", a.ID, model.ErrNotFound},
		{"last user", b.ID, model.ErrLastUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.DeleteUser(tc.id, model.CLIActor)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("DeleteUser(%d) = %v, want %v", tc.id, err, tc.want)
			}
		})
	}
	if _, err := s.UserByName("alice"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("deleted user still found by name: %v", err)
	}
	// The name is free again.
	testkit.CreateUser(t, s, "Alice", "password1", "a@example.com")
}

// TestDeleteUserCascade: everything that belongs to a user goes in
// DeleteUser's transaction (sessions, tokens, passkeys and the passkey
// user handle), another user's records stay, and a refused delete (the
// last user) removes nothing.
func TestDeleteUserCascade(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	users := []model.User{testkit.CreateUser(t, s, "alice", "password1", "a@example.com"), testkit.CreateUser(t, s, "bob", "password1", "b@example.com")}
	policy := model.SessionPolicy{Idle: time.Hour, Max: time.Hour}
	type held struct{ session, token, credential string }
	var records []held
	for i, u := range users {
		session, _, err := s.CreateSession(u.ID, "192.0.2.1", "test", model.CLIActor, "password")
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := s.CreateToken(u.ID, model.NewToken{ExpiresAt: clock.Now().Add(time.Hour)}, model.CLIActor)
		if err != nil {
			t.Fatal(err)
		}
		credential := fmt.Sprintf("cred-%d", i)
		if _, err := s.AddPasskey(u.ID, model.NewPasskeyHandle(), samplePasskey(credential, "laptop"), model.CLIActor); err != nil {
			t.Fatal(err)
		}
		records = append(records, held{session, token, credential})
	}
	// exists reports, per kind of record, whether the user's is still there.
	exists := func(i int) map[string]bool {
		_, _, serr := s.SessionByToken(records[i].session, policy)
		_, _, terr := s.TokenByValue(records[i].token)
		_, _, _, perr := s.PasskeyByCredentialID([]byte(records[i].credential))
		_, herr := s.PasskeyHandle(users[i].ID)
		sessions, _ := s.SessionsOf(users[i].ID)
		tokens, _ := s.Tokens(users[i].ID)
		return map[string]bool{"session": serr == nil && len(sessions) == 1, "token": terr == nil && len(tokens) == 1,
			"passkey": perr == nil, "passkey handle": herr == nil}
	}
	if err := s.DeleteUser(users[0].ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	for kind, ok := range exists(0) {
		if ok {
			t.Errorf("the deleted user's %s remains", kind)
		}
	}
	for kind, ok := range exists(1) {
		if !ok {
			t.Errorf("the other user's %s went too", kind)
		}
	}
	if err := s.DeleteUser(users[1].ID, model.CLIActor); !errors.Is(err, model.ErrLastUser) {
		t.Fatalf("deleting the last user: %v", err)
	}
	for kind, ok := range exists(1) {
		if !ok {
			t.Errorf("a refused delete removed the user's %s", kind)
		}
	}
	if ev := eventsWith(t, s, model.EventUserDeleted); len(ev) != 1 || ev[0].TargetID != users[0].ID {
		t.Errorf("user.deleted events: %+v", ev)
	}
}

func strp(s string) *string { return &s }

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		patch     model.UserPatch
		wantName  string
		wantEmail string
		events    []string
	}{
		{"rename", model.UserPatch{Username: strp("robert")}, "robert", "bob@example.com", []string{model.EventUserRenamed}},
		{"case-only rename of own name", model.UserPatch{Username: strp("BOB")}, "BOB", "bob@example.com", []string{model.EventUserRenamed}},
		{"email", model.UserPatch{Email: strp("new@example.com")}, "bob", "new@example.com", []string{model.EventEmailChanged}},
		{"both", model.UserPatch{Username: strp("rob"), Email: strp("rob@example.com")}, "rob", "rob@example.com",
			[]string{model.EventEmailChanged, model.EventUserRenamed}},
		{"same values", model.UserPatch{Username: strp("bob"), Email: strp("bob@example.com")}, "bob", "bob@example.com", nil},
		{"empty patch", model.UserPatch{}, "bob", "bob@example.com", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testkit.NewStore(t)
			bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
			actor := model.Actor{UserID: 42, Name: "admin", IP: "192.0.2.7"}
			before := len(allEvents(t, s))
			u, err := s.UpdateUser(bob.ID, tc.patch, actor)
			if err != nil {
				t.Fatal(err)
			}
			stored, _ := s.User(bob.ID)
			for _, got := range []model.User{u, stored} {
				if got.Username != tc.wantName || got.Email != tc.wantEmail || got.PasswordHash != bob.PasswordHash {
					t.Fatalf("user = %+v, want %s %s", got, tc.wantName, tc.wantEmail)
				}
			}
			if byName, err := s.UserByName(tc.wantName); err != nil || byName.ID != bob.ID {
				t.Fatalf("UserByName(%q) = %+v, %v", tc.wantName, byName, err)
			}
			if tc.wantName != "bob" && !strings.EqualFold(tc.wantName, "bob") {
				if _, err := s.UserByName("bob"); !errors.Is(err, model.ErrNotFound) {
					t.Fatalf("old name still resolves: %v", err)
				}
			}
			ev := allEvents(t, s)
			if len(ev)-before != len(tc.events) {
				t.Fatalf("%d new events, want %v", len(ev)-before, tc.events)
			}
			for i, action := range tc.events {
				e := ev[i]
				if e.Action != action || e.Actor != "admin" || e.ActorID != 42 || e.IP != "192.0.2.7" || e.TargetID != bob.ID {
					t.Fatalf("event %d = %+v, want %s by admin from 192.0.2.7 on %d", i, e, action, bob.ID)
				}
			}
		})
	}
}

// A refused change leaves the stored user as it was and records nothing.
func TestUpdateUserRefusedChangesNothing(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	testkit.CreateUser(t, s, "alice", "password1", "alice@example.com")
	tests := []struct {
		name  string
		id    int
		patch model.UserPatch
		field string
		err   error
	}{
		{"bad username", bob.ID, model.UserPatch{Username: strp("b")}, "username", nil},
		{"script username", bob.ID, model.UserPatch{Username: strp("<script>")}, "username", nil},
		{"bad email", bob.ID, model.UserPatch{Email: strp("Bob <bob@example.com>")}, "email", nil},
		{"good name, bad email", bob.ID, model.UserPatch{Username: strp("robert"), Email: strp("nope")}, "email", nil},
		{"taken name", bob.ID, model.UserPatch{Username: strp("ALICE")}, "username", model.ErrConflict},
		{"taken name with email", bob.ID, model.UserPatch{Username: strp("alice"), Email: strp("x@example.com")}, "username", model.ErrConflict},
		{"unknown user", 999, model.UserPatch{Email: strp("x@example.com")}, "", model.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(allEvents(t, s))
			_, err := s.UpdateUser(tc.id, tc.patch, model.CLIActor)
			if err == nil {
				t.Fatal("UpdateUser succeeded")
			}
			if tc.field != "" {
				wantField(t, err, tc.field)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			got, _ := s.User(bob.ID)
			if !reflect.DeepEqual(got, bob) {
				t.Fatalf("stored user changed: %+v, was %+v", got, bob)
			}
			if n := len(allEvents(t, s)); n != before {
				t.Fatalf("audit events %d → %d", before, n)
			}
		})
	}
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testkit.NewStore(t)
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	alice := testkit.CreateUser(t, s, "alice", "password1", "alice@example.com")
	var bobSessions []string
	for range 3 {
		_, sess, err := s.CreateSession(bob.ID, "192.0.2.1", "test", model.ActorFor(bob, "192.0.2.1"), "password")
		if err != nil {
			t.Fatal(err)
		}
		bobSessions = append(bobSessions, sess.ID)
	}
	_, aliceSess, _ := s.CreateSession(alice.ID, "192.0.2.2", "test", model.ActorFor(alice, "192.0.2.2"), "password")
	bob, _ = s.User(bob.ID) // signing in recorded LastLoginAt

	t.Run("invalid password changes nothing", func(t *testing.T) {
		before := len(allEvents(t, s))
		err := s.SetPassword(ctx, bob.ID, "short1", bobSessions[1], model.ActorFor(bob, "192.0.2.1"))
		wantField(t, err, "password")
		if got, _ := s.User(bob.ID); !reflect.DeepEqual(got, bob) {
			t.Fatalf("user changed: %+v", got)
		}
		if ss, _ := s.SessionsOf(bob.ID); len(ss) != 3 {
			t.Fatalf("%d sessions left, want 3", len(ss))
		}
		if n := len(allEvents(t, s)); n != before {
			t.Fatalf("audit events %d → %d", before, n)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		if err := s.SetPassword(ctx, 999, "password2", "", model.CLIActor); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("SetPassword(999) = %v, want ErrNotFound", err)
		}
	})
	t.Run("change keeps only the given session", func(t *testing.T) {
		if err := s.SetPassword(ctx, bob.ID, "new pass 2", bobSessions[1], model.ActorFor(bob, "192.0.2.1")); err != nil {
			t.Fatal(err)
		}
		ss, _ := s.SessionsOf(bob.ID)
		if len(ss) != 1 || ss[0].ID != bobSessions[1] {
			t.Fatalf("sessions after change = %+v, want only %s", ss, bobSessions[1])
		}
		if ss, _ := s.SessionsOf(alice.ID); len(ss) != 1 || ss[0].ID != aliceSess.ID {
			t.Fatalf("alice's sessions = %+v", ss)
		}
		if _, err := s.Authenticate(ctx, "bob", "new pass 2"); err != nil {
			t.Fatalf("login with the new password: %v", err)
		}
		if _, err := s.Authenticate(ctx, "bob", "password1"); !errors.Is(err, model.ErrInvalidCredentials) {
			t.Fatalf("login with the old password: %v", err)
		}
		if ev := eventsWith(t, s, model.EventPasswordChanged); len(ev) != 1 || ev[0].TargetID != bob.ID || ev[0].Actor != "bob" {
			t.Fatalf("password events = %+v", ev)
		}
	})
	t.Run("empty keep ends all sessions", func(t *testing.T) {
		if err := s.SetPassword(ctx, bob.ID, "newer pass 3", "", model.CLIActor); err != nil {
			t.Fatal(err)
		}
		if ss, _ := s.SessionsOf(bob.ID); len(ss) != 0 {
			t.Fatalf("%d sessions left", len(ss))
		}
	})
}

func TestSetPasswordRemovesInitialPasswordFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testkit.NewStore(t)
	path := filepath.Join(s.Dir(), model.InitialPasswordFile)
	if _, created, err := s.EnsureAdmin(ctx, ""); err != nil || !created {
		t.Fatalf("EnsureAdmin: %v, %v", created, err)
	}
	admin, _ := s.UserByName("admin")
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	steps := []struct {
		name     string
		id       int
		wantFile bool
	}{
		{"another user's password", bob.ID, true},
		{"the initial admin's password", admin.ID, false},
		{"again (file already gone)", admin.ID, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.SetPassword(ctx, st.id, "changed 123", "", model.CLIActor); err != nil {
				t.Fatal(err)
			}
			_, err := os.Stat(path)
			if exists := err == nil; exists != st.wantFile {
				t.Fatalf("file exists = %v, want %v", exists, st.wantFile)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	tests := []struct {
		name, user, password string
		ok                   bool
	}{
		{"right", "bob", "password1", true},
		{"name in other case", "BOB", "password1", true},
		{"wrong password", "bob", "password2", false},
		{"empty password", "bob", "", false},
		{"over-long password", "bob", strings.Repeat("password1", 200), false},
		{"unknown user", "nobody", "password1", false},
		{"empty user", "", "password1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.Authenticate(context.Background(), tc.user, tc.password)
			if tc.ok {
				if err != nil || u.ID != bob.ID {
					t.Fatalf("Authenticate = %+v, %v", u, err)
				}
				return
			}
			if err != model.ErrInvalidCredentials || u.ID != 0 {
				t.Fatalf("Authenticate = %+v, %v; want exactly ErrInvalidCredentials", u, err)
			}
		})
	}
}

// Hashes made with old parameters are replaced at the next login.
func TestRehashOnLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	a, err := model.Open(dir, model.Options{Create: true, Argon2: testkit.Argon2()})
	if err != nil {
		t.Fatal(err)
	}
	testkit.CreateUser(t, a, "bob", "password1", "bob@example.com")
	a.Close()

	paramsB := model.Argon2Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	b := testkit.OpenStore(t, dir, func(o *model.Options) { o.Argon2 = &paramsB })
	if _, err := b.Authenticate(ctx, "bob", "wrong pass 1"); !errors.Is(err, model.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if u, _ := b.UserByName("bob"); !strings.Contains(u.PasswordHash, "$m=64,t=1,p=1$") {
		t.Fatalf("a failed login changed the hash: %s", u.PasswordHash)
	}
	if _, err := b.Authenticate(ctx, "bob", "password1"); err != nil {
		t.Fatal(err)
	}
	u, _ := b.UserByName("bob")
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=128,t=2,p=1$") {
		t.Fatalf("hash after login = %s, want params B", u.PasswordHash)
	}
	if u.Username != "bob" || u.Email != "bob@example.com" {
		t.Fatalf("rehash changed other fields: %+v", u)
	}
	if ok, rehash, err := b.Hasher().Verify(ctx, u.PasswordHash, "password1"); !ok || rehash || err != nil {
		t.Fatalf("new hash: %v %v %v", ok, rehash, err)
	}
	if _, err := b.Authenticate(ctx, "bob", "password1"); err != nil {
		t.Fatalf("login after rehash: %v", err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("password from the environment", func(t *testing.T) {
		s := testkit.NewStore(t)
		gen, created, err := s.EnsureAdmin(ctx, "env secret 1")
		if err != nil || !created || gen != "" {
			t.Fatalf("EnsureAdmin = %q, %v, %v", gen, created, err)
		}
		if _, err := os.Stat(filepath.Join(s.Dir(), model.InitialPasswordFile)); !os.IsNotExist(err) {
			t.Fatalf("password file written for an env password: %v", err)
		}
		if _, err := s.Authenticate(ctx, "admin", "env secret 1"); err != nil {
			t.Fatal(err)
		}
		if gen, created, err := s.EnsureAdmin(ctx, "other pass 2"); err != nil || created || gen != "" {
			t.Fatalf("second EnsureAdmin = %q, %v, %v", gen, created, err)
		}
		if _, err := s.Authenticate(ctx, "admin", "env secret 1"); err != nil {
			t.Fatal("second call changed the password")
		}
	})
	t.Run("generated password", func(t *testing.T) {
		s := testkit.NewStore(t)
		gen, created, err := s.EnsureAdmin(ctx, "")
		if err != nil || !created || gen == "" {
			t.Fatalf("EnsureAdmin = %q, %v, %v", gen, created, err)
		}
		if err := model.ValidatePassword(gen); err != nil {
			t.Fatalf("generated %q: %v", gen, err)
		}
		path := filepath.Join(s.Dir(), model.InitialPasswordFile)
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("password file: %v, %v", fi, err)
		}
		if b, _ := os.ReadFile(path); string(b) != gen+"\n" {
			t.Fatalf("file holds %q, want %q", b, gen+"\n")
		}
		if _, err := s.Authenticate(ctx, "admin", gen); err != nil {
			t.Fatal(err)
		}
		if us, _ := s.Users(); len(us) != 1 || us[0].Username != "admin" || model.ValidateEmail(us[0].Email) != nil {
			t.Fatalf("users = %+v", us)
		}
		gen2, created, err := s.EnsureAdmin(ctx, "")
		if err != nil || created || gen2 != "" {
			t.Fatalf("second EnsureAdmin = %q, %v, %v", gen2, created, err)
		}
		if b, _ := os.ReadFile(path); string(b) != gen+"\n" {
			t.Fatal("second call rewrote the file")
		}
		if us, _ := s.Users(); len(us) != 1 {
			t.Fatalf("%d users", len(us))
		}
	})
	t.Run("invalid env password", func(t *testing.T) {
		s := testkit.NewStore(t)
		if _, created, err := s.EnsureAdmin(ctx, "short"); err == nil || created {
			t.Fatalf("EnsureAdmin(short) = %v, %v", created, err)
		}
		if us, _ := s.Users(); len(us) != 0 {
			t.Fatalf("%d users", len(us))
		}
	})
	t.Run("existing users", func(t *testing.T) {
		s := testkit.NewStore(t)
		testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
		if _, created, err := s.EnsureAdmin(ctx, ""); err != nil || created {
			t.Fatalf("EnsureAdmin = %v, %v", created, err)
		}
		if _, err := s.UserByName("admin"); !errors.Is(err, model.ErrNotFound) {
			t.Fatal("admin created although users exist")
		}
	})
}

// Storm's list index matches "value__" as a prefix; names containing "__"
// must not shadow shorter names, and an empty name must not panic.
func TestUserByNameExactMatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testkit.NewStore(t)
	x := testkit.CreateUser(t, s, "bob__x", "password1", "x@example.com")
	tests := []struct {
		name   string
		lookup string
		want   int // 0: not found
	}{
		{"prefix of a longer name", "bob", 0},
		{"prefix with separator", "bob_", 0},
		{"exact", "bob__x", x.ID},
		{"exact other case", "BOB__X", x.ID},
		{"empty", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.UserByName(tc.lookup)
			if tc.want == 0 && !errors.Is(err, model.ErrNotFound) || tc.want != 0 && (err != nil || u.ID != tc.want) {
				t.Fatalf("UserByName(%q) = %d, %v; want id %d", tc.lookup, u.ID, err, tc.want)
			}
		})
	}
	if _, err := s.Authenticate(ctx, "bob", "password1"); !errors.Is(err, model.ErrInvalidCredentials) {
		t.Fatalf("login as bob with bob__x's password: %v", err)
	}
	bob := testkit.CreateUser(t, s, "bob", "password2!", "bob@example.com")
	if u, err := s.UserByName("bob"); err != nil || u.ID != bob.ID {
		t.Fatalf("UserByName(bob) = %d, %v", u.ID, err)
	}
	if u, err := s.UserByName("bob__x"); err != nil || u.ID != x.ID {
		t.Fatalf("UserByName(bob__x) = %d, %v", u.ID, err)
	}
	if _, err := s.UpdateUser(x.ID, model.UserPatch{Username: strp("bob__x__y")}, model.CLIActor); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if _, err := s.UserByName("bob__x"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("old name after rename: %v", err)
	}
}

// TestUsernameCaseFoldingIsASCIIOnly: usernames match byte for byte after
// ASCII lower-casing only. Unicode case folding would let the Kelvin sign
// (U+212A), which lower-cases to 'k', stand for "kate".
func TestUsernameCaseFoldingIsASCIIOnly(t *testing.T) {
	ctx := context.Background()
	s := testkit.NewStore(t)
	kate := testkit.CreateUser(t, s, "kate", "password1", "kate@example.com")
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	for _, name := range []string{"kate", "KATE", "Kate"} {
		if u, err := s.UserByName(name); err != nil || u.ID != kate.ID {
			t.Errorf("UserByName(%q) = %d, %v; want kate", name, u.ID, err)
		}
	}
	for _, name := range []string{"\u212Aate", "\u212AATE", "kate\u200b", "k\u0430te"} {
		if u, err := s.UserByName(name); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("UserByName(%+q) = %d, %v; want ErrNotFound", name, u.ID, err)
		}
		if u, err := s.Authenticate(ctx, name, "password1"); err != model.ErrInvalidCredentials {
			t.Errorf("Authenticate(%+q) = %d, %v; want ErrInvalidCredentials", name, u.ID, err)
		}
		_, err := s.CreateUser(ctx, model.NewUser{Username: name, Password: "password1", Email: "k@example.com"}, model.CLIActor)
		wantField(t, err, "username")
		_, err = s.UpdateUser(bob.ID, model.UserPatch{Username: strp(name)}, model.CLIActor)
		wantField(t, err, "username")
	}
	for in, want := range map[string]string{"Kate": "kate", "ADMIN_1-x": "admin_1-x", "\u212Aate": "\u212Aate", "\u0130x": "\u0130x"} {
		if got := model.UsernameKey(in); got != want {
			t.Errorf("UsernameKey(%+q) = %+q, want %+q", in, got, want)
		}
	}
}
