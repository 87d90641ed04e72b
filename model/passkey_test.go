package model_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// samplePasskey is a passkey record as the handlers build it from a verified
// registration.
func samplePasskey(credID string, name string) model.Passkey {
	return model.Passkey{RPID: "localhost", Name: name, CredentialID: []byte(credID), PublicKey: []byte("cose-key-" + credID),
		AAGUID: bytes.Repeat([]byte{7}, 16), Transports: []string{"internal"}, Flags: 0x1d,
		UserVerified: true, BackupEligible: true, BackupState: true, AttestationFormat: "packed"}
}

func TestValidatePasskeyName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"laptop", true},
		{"Alice's YubiKey 5C", true},
		{"ノートパソコン", true},
		{strings.Repeat("x", model.PasskeyNameMaxLen), true},
		{strings.Repeat("é", model.PasskeyNameMaxLen), true},
		{strings.Repeat("x", model.PasskeyNameMaxLen+1), false},
		{"", false},
		{"   ", false},
		{"tab\there", false},
		{"new\nline", false},
		{"\xff\xfe", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := model.ValidatePasskeyName(tc.name); (err == nil) != tc.ok {
				t.Errorf("ValidatePasskeyName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}

func FuzzValidatePasskeyName(f *testing.F) {
	for _, s := range []string{"laptop", "", " ", "a\x00b", strings.Repeat("x", 65), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if model.ValidatePasskeyName(s) != nil {
			return
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > model.PasskeyNameMaxLen || strings.TrimSpace(s) == "" {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("accepted a control character in %q", s)
			}
		}
	})
}

func TestPasskeyStore(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	alice := testkit.CreateUser(t, s, "alice", "alice-pass-1", "alice@example.com")
	bob := testkit.CreateUser(t, s, "bob", "bob-pass-1", "bob@example.com")
	handle := model.NewPasskeyHandle()
	by := model.ActorFor(alice, "192.0.2.1")

	if _, err := s.PasskeyHandle(alice.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("PasskeyHandle before any passkey: %v, want ErrNotFound", err)
	}
	p, err := s.AddPasskey(alice.ID, handle, samplePasskey("cred-1", "  laptop "), by)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || p.Key != model.PasskeyKey([]byte("cred-1")) || p.UserID != alice.ID || p.Name != "laptop" || !p.CreatedAt.Equal(clock.Now()) || p.LastUsedAt != nil {
		t.Errorf("stored passkey = %+v", p)
	}
	if got, err := s.PasskeyHandle(alice.ID); err != nil || !bytes.Equal(got, handle) {
		t.Errorf("PasskeyHandle = %x, %v", got, err)
	}
	if u, _ := s.User(alice.ID); u.Passkeys != 1 {
		t.Errorf("User.Passkeys = %d, want 1", u.Passkeys)
	}
	if n := len(eventsWith(t, s, model.EventPasskeyRegistered)); n != 1 {
		t.Errorf("%d %s events, want 1", n, model.EventPasskeyRegistered)
	}

	t.Run("refused additions change nothing", func(t *testing.T) {
		for name, tc := range map[string]struct {
			user   int
			handle []byte
			p      model.Passkey
			want   error
		}{
			"same credential again":        {alice.ID, handle, samplePasskey("cred-1", "again"), model.ErrConflict},
			"credential of another user":   {bob.ID, model.NewPasskeyHandle(), samplePasskey("cred-1", "stolen"), model.ErrConflict},
			"another user handle":          {alice.ID, model.NewPasskeyHandle(), samplePasskey("cred-x", "x"), model.ErrConflict},
			"unknown user":                 {999, handle, samplePasskey("cred-y", "y"), model.ErrNotFound},
			"empty name":                   {alice.ID, handle, samplePasskey("cred-z", " "), nil},
			"no public key (not verified)": {alice.ID, handle, model.Passkey{Name: "n", CredentialID: []byte("c")}, nil},
		} {
			_, err := s.AddPasskey(tc.user, tc.handle, tc.p, by)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("%s: err = %v, want %v", name, err, tc.want)
			}
		}
		if list, _ := s.Passkeys(alice.ID); len(list) != 1 {
			t.Errorf("alice has %d passkeys", len(list))
		}
		if list, _ := s.Passkeys(bob.ID); len(list) != 0 {
			t.Errorf("bob has %d passkeys", len(list))
		}
		if u, _ := s.User(bob.ID); u.Passkeys != 0 {
			t.Errorf("bob's count = %d", u.Passkeys)
		}
	})

	t.Run("use updates count, flags and last use; counter never goes back", func(t *testing.T) {
		clock.Advance(time.Hour)
		got, err := s.RecordPasskeyUse([]byte("cred-1"), model.PasskeyUse{SignCount: 5, Flags: 0x05, BackupEligible: true, BackupState: false}, by)
		if err != nil {
			t.Fatal(err)
		}
		if got.SignCount != 5 || got.BackupState || got.Flags != 0x05 || !got.UserVerified || got.LastUsedAt == nil || !got.LastUsedAt.Equal(clock.Now()) {
			t.Errorf("after use: %+v", got)
		}
		firstUse := *got.LastUsedAt
		clock.Advance(time.Hour)
		for _, count := range []uint32{5, 4, 0} {
			if _, err := s.RecordPasskeyUse([]byte("cred-1"), model.PasskeyUse{SignCount: count, BackupEligible: true}, by); !errors.Is(err, model.ErrPasskeyCloned) {
				t.Errorf("counter %d after 5: err = %v, want ErrPasskeyCloned", count, err)
			}
		}
		p, _, _, err := s.PasskeyByCredentialID([]byte("cred-1"))
		if err != nil || p.SignCount != 5 || !p.LastUsedAt.Equal(firstUse) {
			t.Errorf("refused uses changed the passkey: %+v, %v", p, err)
		}
		if n := len(eventsWith(t, s, model.EventPasskeyCloneRefused)); n != 3 {
			t.Errorf("%d %s events, want 3", n, model.EventPasskeyCloneRefused)
		}
		if _, err := s.RecordPasskeyUse([]byte("cred-1"), model.PasskeyUse{SignCount: 6, BackupEligible: false}, by); err == nil {
			t.Error("a changed backup-eligible flag was stored")
		}
	})

	t.Run("authenticators without a counter (always 0) keep working", func(t *testing.T) {
		if _, err := s.AddPasskey(alice.ID, handle, samplePasskey("cred-0", "phone"), by); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if _, err := s.RecordPasskeyUse([]byte("cred-0"), model.PasskeyUse{SignCount: 0, BackupEligible: true, BackupState: true}, by); err != nil {
				t.Fatalf("use %d with counter 0: %v", i, err)
			}
		}
	})

	t.Run("lookup, delete, clear", func(t *testing.T) {
		p, u, h, err := s.PasskeyByCredentialID([]byte("cred-0"))
		if err != nil || u.ID != alice.ID || !bytes.Equal(h, handle) || p.Name != "phone" {
			t.Fatalf("PasskeyByCredentialID = %+v, %v, %v", p, u.Username, err)
		}
		if _, _, _, err := s.PasskeyByCredentialID([]byte("nope")); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("unknown credential: %v", err)
		}
		list, _ := s.Passkeys(alice.ID)
		if len(list) != 2 || list[0].Name != "laptop" || list[1].Name != "phone" {
			t.Fatalf("Passkeys = %+v", list)
		}
		if err := s.DeletePasskey(bob.ID, list[0].ID, model.CLIActor); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("deleting alice's passkey as bob's: %v", err)
		}
		if err := s.DeletePasskey(alice.ID, list[0].ID, model.CLIActor); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.User(alice.ID); u.Passkeys != 1 {
			t.Errorf("count after delete = %d", u.Passkeys)
		}
		if n, err := s.ClearPasskeys(alice.ID, model.CLIActor); err != nil || n != 1 {
			t.Errorf("ClearPasskeys = %d, %v", n, err)
		}
		if u, _ := s.User(alice.ID); u.Passkeys != 0 {
			t.Errorf("count after clear = %d (a zero must be saved)", u.Passkeys)
		}
		if n := len(eventsWith(t, s, model.EventPasskeyDeleted)); n != 2 {
			t.Errorf("%d %s events, want 2", n, model.EventPasskeyDeleted)
		}
	})

	t.Run("deleting the user deletes its passkeys", func(t *testing.T) {
		if _, err := s.AddPasskey(bob.ID, model.NewPasskeyHandle(), samplePasskey("cred-b", "bob's key"), model.CLIActor); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(bob.ID, model.CLIActor); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.PasskeyByCredentialID([]byte("cred-b")); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("bob's passkey after deleting bob: %v", err)
		}
		if _, err := s.PasskeyHandle(bob.ID); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("bob's user handle after deleting bob: %v", err)
		}
	})
}

// TestWebAuthnHandleCreatedOnce: a user's handle is made at the first ask,
// atomically, and every later ask (concurrent ones too) gets the same one,
// which the first passkey then uses; it goes only with the user.
func TestWebAuthnHandleCreatedOnce(t *testing.T) {
	s := testkit.NewStore(t)
	alice := testkit.CreateUser(t, s, "alice", "alice-pass-1", "alice@example.com")
	testkit.CreateUser(t, s, "bob", "bob-pass-1", "bob@example.com")
	handles := make([][]byte, 20)
	for i, err := range race(len(handles), func(i int) (err error) {
		handles[i], err = s.WebAuthnHandle(alice.ID)
		return err
	}) {
		if err != nil {
			t.Fatalf("WebAuthnHandle #%d: %v", i, err)
		}
	}
	for i, h := range handles {
		if len(h) != 32 || !bytes.Equal(h, handles[0]) {
			t.Fatalf("handle #%d = %x, #0 = %x: want one handle of 32 bytes", i, h, handles[0])
		}
	}
	if got, err := s.PasskeyHandle(alice.ID); err != nil || !bytes.Equal(got, handles[0]) {
		t.Fatalf("PasskeyHandle = %x, %v", got, err)
	}
	if _, err := s.AddPasskey(alice.ID, handles[0], samplePasskey("cred-1", "laptop"), model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClearPasskeys(alice.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if h, err := s.WebAuthnHandle(alice.ID); err != nil || !bytes.Equal(h, handles[0]) {
		t.Fatalf("after clearing the passkeys: %x, %v", h, err)
	}
	if _, err := s.WebAuthnHandle(999); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("WebAuthnHandle of an unknown user: %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(alice.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PasskeyHandle(alice.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("handle of a deleted user: %v", err)
	}
}
