package model_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func TestTokenValueFormat(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		v := model.NewTokenValue()
		if len(v) != model.TokenValueLen || !strings.HasPrefix(v, model.TokenPrefix) {
			t.Fatalf("token %q: want %d characters starting with %s", v, model.TokenValueLen, model.TokenPrefix)
		}
		if !model.WellFormedToken(v) {
			t.Fatalf("WellFormedToken(%q) = false for a fresh token", v)
		}
		if seen[v] {
			t.Fatalf("token %q made twice", v)
		}
		seen[v] = true
	}
	v := model.NewTokenValue()
	bad := map[string]string{
		"empty":            "",
		"prefix only":      model.TokenPrefix,
		"other prefix":     "ghp_" + v[4:],
		"one short":        v[:len(v)-1],
		"one long":         v + "0",
		"not base62":       v[:10] + "-" + v[11:],
		"lower-case body":  strings.ToLower(v),
		"typo in the body": v[:10] + string(flip(v[10])) + v[11:],
		"typo in the sum":  v[:len(v)-1] + string(flip(v[len(v)-1])),
		"swapped":          v[:10] + string(v[11]) + string(v[10]) + v[12:],
		"with a space":     " " + v[1:],
	}
	for name, s := range bad {
		if s == v {
			continue // a swap of two equal characters
		}
		if model.WellFormedToken(s) {
			t.Errorf("%s: WellFormedToken(%q) = true", name, s)
		}
	}
}

func flip(c byte) byte {
	if c == 'a' {
		return 'b'
	}
	return 'a'
}

func TestParseIPList(t *testing.T) {
	t.Parallel()
	good := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty means any", nil, []string{}},
		{"blank lines dropped", []string{"", "  ", "\t"}, []string{}},
		{"IPv4", []string{"203.0.113.7"}, []string{"203.0.113.7"}},
		{"IPv6 canonical", []string{"2001:DB8:0:0::1"}, []string{"2001:db8::1"}},
		{"IPv4 range", []string{"203.0.113.0/24"}, []string{"203.0.113.0/24"}},
		{"IPv6 range", []string{"2001:db8::/32"}, []string{"2001:db8::/32"}},
		{"host ranges", []string{"10.1.2.3/32", "::1/128"}, []string{"10.1.2.3/32", "::1/128"}},
		{"everything", []string{"0.0.0.0/0", "::/0"}, []string{"0.0.0.0/0", "::/0"}},
		{"mapped address unmapped", []string{"::ffff:127.0.0.1"}, []string{"127.0.0.1"}},
		{"mapped range unmapped", []string{"::ffff:10.0.0.0/104"}, []string{"10.0.0.0/8"}},
		{"spaces trimmed", []string{" 192.0.2.1 "}, []string{"192.0.2.1"}},
		{"duplicates dropped, order kept", []string{"::1", "127.0.0.1", "0:0::1"}, []string{"::1", "127.0.0.1"}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			got, err := model.ParseIPList(tc.in)
			if err != nil {
				t.Fatalf("ParseIPList(%q): %v", tc.in, err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || got == nil {
				t.Errorf("ParseIPList(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	many := make([]string, model.TokenMaxIPs+1)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
	}
	bad := []struct {
		name, in, want string
	}{
		{"not an address", "example.com", "is not an IPv4 or IPv6 address or CIDR range"},
		{"IPv4 prefix too long", "10.0.0.0/33", "an IPv4 prefix length is 0 to 32"},
		{"IPv6 prefix too long", "2001:db8::/129", "an IPv6 prefix length is 0 to 128"},
		{"host bits", "10.0.0.1/8", `"10.0.0.1/8" has host bits set: did you mean 10.0.0.0/8?`},
		{"IPv6 host bits", "2001:db8::1/32", "did you mean 2001:db8::/32?"},
		{"zone", "fe80::1%eth0", "zones"},
		{"zone in a range", "fe80::%eth0/64", "zones"},
		{"bits not a number", "10.0.0.0/x", "prefix length"},
		{"bits with a sign", "10.0.0.0/+8", "prefix length"},
		{"bits with a leading zero", "10.0.0.0/08", "prefix length"},
		{"empty bits", "10.0.0.0/", "prefix length"},
		{"two slashes", "10.0.0.0/8/8", "prefix length"},
		{"leading zeros", "010.0.0.1", "is not an IPv4"},
		{"too long", strings.Repeat("1", 100), "too long"},
		{"invalid UTF-8", "\xff\xfe", "is not an IPv4"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := model.ParseIPList([]string{"192.0.2.1", tc.in})
			wantField(t, err, "ips")
			if msg := err.(*model.ValidationError).Fields["ips"]; !strings.Contains(msg, tc.want) {
				t.Errorf("message %q lacks %q", msg, tc.want)
			}
		})
	}
	t.Run("too many entries", func(t *testing.T) {
		_, err := model.ParseIPList(many)
		wantField(t, err, "ips")
		if _, err := model.ParseIPList(many[:model.TokenMaxIPs]); err != nil {
			t.Errorf("%d entries refused: %v", model.TokenMaxIPs, err)
		}
	})
	t.Run("many bad entries summarised", func(t *testing.T) {
		_, err := model.ParseIPList([]string{"a", "b", "c", "d", "e"})
		if msg := err.(*model.ValidationError).Fields["ips"]; !strings.Contains(msg, "and 2 more") {
			t.Errorf("message %q", msg)
		}
	})
}

func TestSplitIPList(t *testing.T) {
	t.Parallel()
	got := model.SplitIPList(" 10.0.0.0/8\r\n\n2001:db8::/32, 192.0.2.1 ;::1\t")
	want := []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.1", "::1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("SplitIPList = %q, want %q", got, want)
	}
}

func TestTokenAllowsIP(t *testing.T) {
	t.Parallel()
	list, err := model.ParseIPList([]string{"203.0.113.0/24", "2001:db8::/32", "127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	tok := model.Token{IPs: list}
	for ip, want := range map[string]bool{
		"203.0.113.0": true, "203.0.113.255": true, "203.0.114.0": false,
		"2001:db8::1": true, "2001:db9::1": false,
		"127.0.0.1": true, "127.0.0.2": false, "::ffff:127.0.0.1": true, "::ffff:203.0.113.9": true,
		"::1": true, "::2": false, "0.0.0.0": false,
	} {
		if got := tok.AllowsIP(netip.MustParseAddr(ip)); got != want {
			t.Errorf("AllowsIP(%s) = %v, want %v", ip, got, want)
		}
	}
	if !(model.Token{}).AllowsIP(netip.MustParseAddr("198.51.100.1")) {
		t.Error("an empty white list refused an address")
	}
}

// TestTokenExpiryBoundaries: now is refused, now + 1 minute and now + 10
// years are accepted, 10 years and a second (or a day) are refused.
func TestTokenExpiryBoundaries(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		t    time.Time
		ok   bool
	}{
		{"zero", time.Time{}, false},
		{"past", now.Add(-time.Hour), false},
		{"now", now, false},
		{"now + 1 s", now.Add(time.Second), true},
		{"now + 1 min", now.Add(time.Minute), true},
		{"now + 10 years", now.AddDate(10, 0, 0), true},
		{"now + 10 years in another zone", now.AddDate(10, 0, 0).In(time.FixedZone("X", 5*3600)), true},
		{"now + 10 years + 1 s", now.AddDate(10, 0, 0).Add(time.Second), false},
		{"now + 10 years + 1 day", now.AddDate(10, 0, 1), false},
	}
	for _, tc := range cases {
		if err := model.ValidateTokenExpiry(tc.t, now); (err == nil) != tc.ok {
			t.Errorf("%s: ValidateTokenExpiry = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	// A leap day ten years on: AddDate normalises 2034-02-29 to 03-01.
	leap := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	if err := model.ValidateTokenExpiry(time.Date(2034, 3, 1, 0, 0, 0, 0, time.UTC), leap); err != nil {
		t.Errorf("leap day + 10 years: %v", err)
	}
}

func TestParseTokenTimes(t *testing.T) {
	t.Parallel()
	t.Run("RFC 3339", func(t *testing.T) {
		got, err := model.ParseTokenExpiry("2030-01-02T03:04:05.9+02:00")
		if err != nil || !got.Equal(time.Date(2030, 1, 2, 1, 4, 5, 0, time.UTC)) || got.Location() != time.UTC {
			t.Errorf("= %v, %v", got, err)
		}
		for _, s := range []string{"", "2030-01-02", "2030-01-02 03:04:05Z", "tomorrow", "2030-01-02T03:04:05"} {
			if _, err := model.ParseTokenExpiry(s); err == nil {
				t.Errorf("ParseTokenExpiry(%q) accepted", s)
			}
		}
	})
	t.Run("browser form", func(t *testing.T) {
		cases := []struct {
			value, tz string
			want      time.Time
		}{
			{"2030-01-02T15:04", "", time.Date(2030, 1, 2, 15, 4, 0, 0, time.UTC)},
			{"2030-01-02T15:04", "0", time.Date(2030, 1, 2, 15, 4, 0, 0, time.UTC)},
			// Berlin in winter: getTimezoneOffset() = -60.
			{"2030-01-02T15:04", "-60", time.Date(2030, 1, 2, 14, 4, 0, 0, time.UTC)},
			// New York in summer: +240.
			{"2030-07-02T15:04:30", "240", time.Date(2030, 7, 2, 19, 4, 30, 0, time.UTC)},
			{"2030-07-02T15:04:30Z", "240", time.Date(2030, 7, 2, 15, 4, 30, 0, time.UTC)},
		}
		for _, c := range cases {
			got, err := model.ParseLocalExpiry(c.value, c.tz)
			if err != nil || !got.Equal(c.want) {
				t.Errorf("ParseLocalExpiry(%q, %q) = %v, %v; want %v", c.value, c.tz, got, err, c.want)
			}
		}
		for _, c := range [][2]string{{"", "0"}, {"2030-01-02", "0"}, {"2030-01-02T15:04", "x"}, {"2030-01-02T15:04", "100000"}, {"soon", ""}} {
			if _, err := model.ParseLocalExpiry(c[0], c[1]); err == nil {
				t.Errorf("ParseLocalExpiry(%q, %q) accepted", c[0], c[1])
			}
		}
	})
}

// tokenStore is a store with a clock and the user alice.
func tokenStore(t *testing.T) (*model.Store, *testkit.Clock, model.User) {
	t.Helper()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	return s, clock, testkit.CreateUser(t, s, "alice", "alice-pass-1", "alice@example.com")
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	s, clock, alice := tokenStore(t)
	bob := testkit.CreateUser(t, s, "bob", "bob-pass-1", "bob@example.com")
	by := model.Actor{UserID: bob.ID, Name: "bob", IP: "192.0.2.7"}
	now := clock.Now()

	value, tok, err := s.CreateToken(alice.ID, model.NewToken{IPs: []string{"10.0.0.0/8", " ::1 "}, ExpiresAt: now.Add(time.Hour).In(time.FixedZone("X", 3600))}, by)
	if err != nil {
		t.Fatal(err)
	}
	if !model.WellFormedToken(value) || tok.Hash != model.HashToken(value) || len(tok.ID) != 12 || tok.UserID != alice.ID {
		t.Fatalf("token %+v for value %q", tok, value)
	}
	if tok.ExpiresAt.Location() != time.UTC || !tok.ExpiresAt.Equal(now.Add(time.Hour)) || strings.Join(tok.IPs, ",") != "10.0.0.0/8,::1" {
		t.Errorf("stored %+v", tok)
	}
	ev := eventsWith(t, s, model.EventTokenCreated)
	if len(ev) != 1 || ev[0].Actor != "bob" || ev[0].TargetID != alice.ID || ev[0].IP != "192.0.2.7" || !strings.Contains(ev[0].Detail, tok.ID) {
		t.Errorf("created events %+v", ev)
	}
	if strings.Contains(ev[0].Detail, value) || strings.Contains(ev[0].Detail, tok.Hash) {
		t.Error("the audit detail holds the token value or hash")
	}

	got, u, err := s.TokenByValue(value)
	if err != nil || got.ID != tok.ID || u.ID != alice.ID {
		t.Fatalf("TokenByValue = %+v, %+v, %v", got, u, err)
	}
	for _, v := range []string{"", "gth_", value[:len(value)-1] + string(flip(value[len(value)-1])), model.NewTokenValue()} {
		if _, _, err := s.TokenByValue(v); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("TokenByValue(%q) = %v, want ErrNotFound", v, err)
		}
	}

	// A second token, and bob's own: listing is per user, oldest first.
	clock.Advance(time.Second)
	_, tok2, err := s.CreateToken(alice.ID, model.NewToken{ExpiresAt: now.AddDate(1, 0, 0)}, by)
	if err != nil {
		t.Fatal(err)
	}
	_, bobTok, err := s.CreateToken(bob.ID, model.NewToken{ExpiresAt: now.AddDate(1, 0, 0)}, by)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.Tokens(alice.ID)
	if err != nil || len(list) != 2 || list[0].ID != tok.ID || list[1].ID != tok2.ID {
		t.Fatalf("Tokens(alice) = %+v, %v", list, err)
	}
	if _, err := s.Token(alice.ID, bobTok.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("alice's token list reaches bob's token: %v", err)
	}

	// PATCH semantics: a missing field keeps its value; [] means any.
	newExp := now.AddDate(0, 1, 0)
	upd, err := s.UpdateToken(alice.ID, tok.ID, model.TokenPatch{ExpiresAt: &newExp}, by)
	if err != nil || !upd.ExpiresAt.Equal(newExp) || strings.Join(upd.IPs, ",") != "10.0.0.0/8,::1" {
		t.Fatalf("expiry patch = %+v, %v", upd, err)
	}
	empty := []string{}
	upd, err = s.UpdateToken(alice.ID, tok.ID, model.TokenPatch{IPs: &empty}, by)
	if err != nil || len(upd.IPs) != 0 || !upd.ExpiresAt.Equal(newExp) {
		t.Fatalf("ips patch = %+v, %v", upd, err)
	}
	if stored, _ := s.Token(alice.ID, tok.ID); len(stored.IPs) != 0 {
		t.Errorf("an emptied white list was not saved: %q", stored.IPs)
	}
	mod := eventsWith(t, s, model.EventTokenModified)
	if len(mod) != 2 || !strings.Contains(mod[0].Detail, "ips 10.0.0.0/8,::1 → any") || !strings.Contains(mod[1].Detail, "expires ") {
		t.Errorf("modified events %+v", mod)
	}
	// A patch that changes nothing writes nothing.
	if _, err := s.UpdateToken(alice.ID, tok.ID, model.TokenPatch{IPs: &empty}, by); err != nil {
		t.Fatal(err)
	}
	if n := len(eventsWith(t, s, model.EventTokenModified)); n != 2 {
		t.Errorf("a no-op patch recorded an event (%d events)", n)
	}
	// Invalid patches save nothing and record nothing.
	badIPs := []string{"10.0.0.1/8"}
	past := now.Add(-time.Minute)
	_, err = s.UpdateToken(alice.ID, tok.ID, model.TokenPatch{IPs: &badIPs, ExpiresAt: &past}, by)
	wantField(t, err, "ips")
	wantField(t, err, "expires_at")
	if n := len(eventsWith(t, s, model.EventTokenModified)); n != 2 {
		t.Errorf("a refused patch recorded an event")
	}
	if _, err := s.UpdateToken(alice.ID, "nonexistent", model.TokenPatch{IPs: &empty}, by); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("patch of an unknown token: %v", err)
	}

	// Delete: the token stops working at once.
	if err := s.DeleteToken(alice.ID, tok.ID, by); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TokenByValue(value); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a deleted token still works: %v", err)
	}
	if err := s.DeleteToken(alice.ID, tok.ID, by); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := s.DeleteToken(alice.ID, bobTok.ID, by); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("deleting bob's token through alice: %v", err)
	}
	if ev := eventsWith(t, s, model.EventTokenDeleted); len(ev) != 1 || ev[0].Detail != "token "+tok.ID {
		t.Errorf("deleted events %+v", ev)
	}
}

// TestTokenExpiredCanBeExtended: an expired token stops working, a new
// expiry brings it back, and its white list can change without one.
func TestTokenExpiredCanBeExtended(t *testing.T) {
	t.Parallel()
	s, clock, alice := tokenStore(t)
	now := clock.Now()
	value, tok, err := s.CreateToken(alice.ID, model.NewToken{ExpiresAt: now.Add(time.Minute)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := s.TokenByValue(value)
	if got.Expired(clock.Now()) {
		t.Fatal("expired at once")
	}
	clock.Advance(59 * time.Second)
	if got.Expired(clock.Now()) {
		t.Fatal("expired a second early")
	}
	clock.Advance(time.Second)
	if !got.Expired(clock.Now()) {
		t.Fatal("still valid at its expiry")
	}
	ips := []string{"192.0.2.0/24"}
	if _, err := s.UpdateToken(alice.ID, tok.ID, model.TokenPatch{IPs: &ips}, model.CLIActor); err != nil {
		t.Fatalf("white list of an expired token: %v", err)
	}
	exp := clock.Now().Add(time.Hour)
	if _, err := s.UpdateToken(alice.ID, tok.ID, model.TokenPatch{ExpiresAt: &exp}, model.CLIActor); err != nil {
		t.Fatalf("extending an expired token: %v", err)
	}
	if got, _, _ = s.TokenByValue(value); got.Expired(clock.Now()) {
		t.Error("still expired after Modify")
	}
}

func TestTokenCreateValidation(t *testing.T) {
	t.Parallel()
	s, clock, alice := tokenStore(t)
	now := clock.Now()
	cases := []struct {
		name   string
		in     model.NewToken
		fields []string
	}{
		{"no expiry", model.NewToken{}, []string{"expires_at"}},
		{"expires now", model.NewToken{ExpiresAt: now}, []string{"expires_at"}},
		{"10 years and a day", model.NewToken{ExpiresAt: now.AddDate(10, 0, 1)}, []string{"expires_at"}},
		{"bad range", model.NewToken{IPs: []string{"10.0.0.0/33"}, ExpiresAt: now.Add(time.Hour)}, []string{"ips"}},
		{"both", model.NewToken{IPs: []string{"nope"}, ExpiresAt: now.Add(-time.Hour)}, []string{"ips", "expires_at"}},
	}
	for _, tc := range cases {
		_, _, err := s.CreateToken(alice.ID, tc.in, model.CLIActor)
		for _, f := range tc.fields {
			wantField(t, err, f)
		}
	}
	if _, _, err := s.CreateToken(9999, model.NewToken{ExpiresAt: now.Add(time.Hour)}, model.CLIActor); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("token for an unknown user: %v", err)
	}
	if list, _ := s.Tokens(alice.ID); len(list) != 0 {
		t.Errorf("refused creates stored %d tokens", len(list))
	}
	if ev := eventsWith(t, s, model.EventTokenCreated); len(ev) != 0 {
		t.Errorf("refused creates recorded %d events", len(ev))
	}
	for _, exp := range []time.Time{now.Add(time.Minute), now.AddDate(10, 0, 0)} {
		if _, _, err := s.CreateToken(alice.ID, model.NewToken{ExpiresAt: exp}, model.CLIActor); err != nil {
			t.Errorf("expiry %v refused: %v", exp, err)
		}
	}
}

// TestDeleteUserDeletesTokens: the user's tokens go in DeleteUser's
// transaction; other users' tokens stay.
func TestDeleteUserDeletesTokens(t *testing.T) {
	t.Parallel()
	s, clock, alice := tokenStore(t)
	bob := testkit.CreateUser(t, s, "bob", "bob-pass-1", "bob@example.com")
	exp := model.NewToken{ExpiresAt: clock.Now().Add(time.Hour)}
	var aliceValues []string
	for i := 0; i < 3; i++ {
		v, _, err := s.CreateToken(alice.ID, exp, model.CLIActor)
		if err != nil {
			t.Fatal(err)
		}
		aliceValues = append(aliceValues, v)
	}
	bobValue, _, err := s.CreateToken(bob.ID, exp, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(alice.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	for _, v := range aliceValues {
		if _, _, err := s.TokenByValue(v); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("a token of a deleted user still works: %v", err)
		}
	}
	if _, _, err := s.TokenByValue(bobValue); err != nil {
		t.Errorf("bob's token stopped working: %v", err)
	}
	if list, _ := s.Tokens(alice.ID); len(list) != 0 {
		t.Errorf("%d tokens of a deleted user remain", len(list))
	}
}

// TestTokenValuesNeverStored: the bbolt file holds hashes only — neither a
// token value nor its random part appears in its bytes.
func TestTokenValuesNeverStored(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	dir := t.TempDir()
	s := testkit.OpenStore(t, dir, testkit.WithClock(clock))
	alice := testkit.CreateUser(t, s, "alice", "alice-pass-1", "alice@example.com")
	var values []string
	for i := 0; i < 20; i++ {
		v, tok, err := s.CreateToken(alice.ID, model.NewToken{IPs: []string{"192.0.2.0/24"}, ExpiresAt: clock.Now().Add(time.Hour)}, model.CLIActor)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
		if err := s.RecordTokenUses(map[string]model.TokenUse{tok.Hash: {At: clock.Now(), IP: "192.0.2.1"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, model.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, model.TokenKey(values[0])) {
		t.Fatal("the file does not hold the token hashes: is this the right file?")
	}
	for _, v := range values {
		body := v[len(model.TokenPrefix) : len(v)-6]
		if bytes.Contains(raw, []byte(v)) || bytes.Contains(raw, []byte(body)) || bytes.Contains(raw, []byte(body[:20])) {
			t.Fatalf("the database file holds the token value %s…", v[:8])
		}
	}
}

func FuzzParseIPList(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.0.0.1/8", "::1", "fe80::1%eth0", "2001:db8::/129", "::ffff:10.0.0.0/104",
		"1.2.3.4/08", "", " ", "\xff", "0.0.0.0/0", "::ffff:1.2.3.4/95"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		entries := model.SplitIPList(text)
		list, err := model.ParseIPList(entries)
		if err != nil {
			wantField(t, err, "ips")
			return
		}
		if len(list) > model.TokenMaxIPs {
			t.Fatalf("%d entries accepted", len(list))
		}
		// Canonical output parses again to itself, and every entry matches
		// what it names.
		again, err := model.ParseIPList(list)
		if err != nil || strings.Join(again, ",") != strings.Join(list, ",") {
			t.Fatalf("ParseIPList(%q) = %q, again %q, %v", entries, list, again, err)
		}
		for _, e := range list {
			if strings.Contains(e, "%") {
				t.Fatalf("zone accepted: %q", e)
			}
			if p, err := netip.ParsePrefix(e); err == nil {
				if p != p.Masked() || !model.IPAllowed([]string{e}, p.Addr()) {
					t.Fatalf("range %q", e)
				}
			} else if a, err := netip.ParseAddr(e); err != nil || a.Is4In6() || !model.IPAllowed([]string{e}, a) {
				t.Fatalf("entry %q", e)
			}
		}
	})
}

// FuzzTokenTimes checks what the API's and the browser form's expiry
// parsers make of any input: an accepted value is a UTC instant in whole
// seconds that says what was typed (formatted again, it parses back to
// itself), and the expiry rule accepts it exactly when it lies after now
// and at most ten years ahead.
func FuzzTokenTimes(f *testing.F) {
	for _, s := range []string{"2030-01-02T03:04:05Z", "2030-01-02T03:04:05.999999999-07:00", "2030-01-02T15:04", "2030-01-02T15:04:05",
		" 2030-01-02T15:04 ", "2035-03-01T12:00:00Z", "2035-03-01T12:00:01Z", "2025-03-01T12:00:00Z", "-60", "x", ""} {
		f.Add(s, "0")
	}
	f.Add("2030-01-02T15:04", "-120")
	f.Add("2030-01-02T23:30", "960")
	f.Add("2030-01-02T15:04", "961")
	f.Add("2030-01-02T15:04", "")
	f.Add("2030-01-02T15:04:05+02:00", "300")
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value, tz string) {
		// The API: RFC 3339, sub-second digits dropped.
		if got, err := model.ParseTokenExpiry(value); err == nil {
			typed, perr := time.Parse(time.RFC3339, value)
			switch {
			case perr != nil || len(value) > 64:
				t.Fatalf("ParseTokenExpiry accepted %q, which is not an RFC 3339 time of at most 64 bytes", value)
			case got.Location() != time.UTC || got.Nanosecond() != 0:
				t.Fatalf("ParseTokenExpiry(%q) = %v: not UTC in whole seconds", value, got)
			case !got.Equal(typed.Truncate(time.Second)):
				t.Fatalf("ParseTokenExpiry(%q) = %v, want %v", value, got, typed.Truncate(time.Second))
			}
			if again, err := model.ParseTokenExpiry(got.Format(time.RFC3339)); err != nil || !again.Equal(got) {
				t.Fatalf("ParseTokenExpiry(%q) = %v does not round-trip: %v, %v", value, got, again, err)
			}
			fuzzExpiryRule(t, got, now)
		}
		// The browser form: datetime-local in the browser's zone, whose
		// offset is tz (minutes to add to local time to get UTC).
		got, err := model.ParseLocalExpiry(value, tz)
		if err != nil {
			return
		}
		// Year 1 parses to the zero time, which the rule refuses as
		// missing: a wrong message for a date nobody types, but no hole.
		if got.Location() != time.UTC {
			t.Fatalf("ParseLocalExpiry(%q, %q) = %v: not a UTC time", value, tz, got)
		}
		typed := strings.TrimSpace(value)
		if api, err := model.ParseTokenExpiry(typed); err == nil {
			if !got.Equal(api) {
				t.Fatalf("ParseLocalExpiry(%q, %q) = %v, but the RFC 3339 time says %v", value, tz, got, api)
			}
		} else {
			offset := 0
			if tz != "" {
				if offset, err = strconv.Atoi(tz); err != nil || offset < -16*60 || offset > 16*60 {
					t.Fatalf("ParseLocalExpiry(%q, %q) accepted a bad offset", value, tz)
				}
			}
			wall, err := time.Parse("2006-01-02T15:04", typed)
			if err != nil {
				wall, err = time.Parse("2006-01-02T15:04:05", typed)
			}
			if err != nil {
				t.Fatalf("ParseLocalExpiry(%q, %q) accepted what is neither RFC 3339 nor datetime-local", value, tz)
			}
			if want := wall.Add(time.Duration(offset) * time.Minute); !got.Equal(want) {
				t.Fatalf("ParseLocalExpiry(%q, %q) = %v, want %v (local time plus the offset)", value, tz, got, want)
			}
			local := got.Add(-time.Duration(offset) * time.Minute).Format("2006-01-02T15:04:05")
			if again, err := model.ParseLocalExpiry(local, tz); err != nil || !again.Equal(got) {
				t.Fatalf("ParseLocalExpiry(%q, %q) = %v does not round-trip through %q: %v, %v", value, tz, got, local, again, err)
			}
		}
		fuzzExpiryRule(t, got, now)
	})
}

// fuzzExpiryRule checks ValidateTokenExpiry on a parsed expiry: it accepts
// exactly the times after now and at most ten years ahead (inclusive).
func fuzzExpiryRule(t *testing.T, exp, now time.Time) {
	t.Helper()
	inBounds := exp.After(now) && !exp.After(now.AddDate(model.TokenMaxLifetimeYears, 0, 0))
	if err := model.ValidateTokenExpiry(exp, now); (err == nil) != inBounds {
		t.Fatalf("ValidateTokenExpiry(%v, now %v) = %v, but in bounds = %v", exp, now, err, inBounds)
	}
}

// FuzzWellFormedToken checks the token checksum: a value built from any
// 32 bytes, the way NewTokenValue builds one from random bytes, is well
// formed, and changing any one character, swapping two different
// neighbours in its random part, or cutting or extending it makes it not;
// whatever is accepted has the token's shape.
func FuzzWellFormedToken(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), uint16(0), byte('G'))
	f.Add([]byte{}, uint16(4), byte('1'))
	f.Add(bytes.Repeat([]byte{0xff}, 32), uint16(52), byte('z'))
	f.Add([]byte(model.NewTokenValue()), uint16(47), byte(' '))
	f.Fuzz(func(t *testing.T, raw []byte, pos uint16, c byte) {
		if s := string(raw); model.WellFormedToken(s) {
			if len(s) != model.TokenValueLen || !strings.HasPrefix(s, model.TokenPrefix) || strings.Trim(s[len(model.TokenPrefix):], model.Base62Alphabet) != "" {
				t.Fatalf("WellFormedToken accepted %q", s)
			}
		}
		var random [model.TokenRandomBytes]byte
		copy(random[:], raw)
		v := model.TokenPrefix + model.Base62(new(big.Int).SetBytes(random[:]), model.TokenBodyLen)
		sum := model.TokenChecksum(v)
		v += string(sum[:])
		if !model.WellFormedToken(v) {
			t.Fatalf("WellFormedToken(%q) = false for a value made like a new token", v)
		}
		i := int(pos) % len(v)
		if c != v[i] {
			if changed := v[:i] + string([]byte{c}) + v[i+1:]; model.WellFormedToken(changed) {
				t.Fatalf("%q with character %d changed to %q is still well formed: %q", v, i, c, changed)
			}
		}
		// A swap of two neighbours in the random part (a typo) changes at
		// most 16 bits in a row, which CRC-32 always detects.
		if j := len(model.TokenPrefix) + int(pos)%(model.TokenBodyLen-1); v[j] != v[j+1] {
			swapped := v[:j] + string([]byte{v[j+1], v[j]}) + v[j+2:]
			if model.WellFormedToken(swapped) {
				t.Fatalf("%q with characters %d and %d swapped is still well formed", v, j, j+1)
			}
		}
		if model.WellFormedToken(v[:len(v)-1]) || model.WellFormedToken(v+string(model.Base62Alphabet[int(c)%62])) {
			t.Fatalf("%q cut or extended is still well formed", v)
		}
		if fresh := model.NewTokenValue(); !model.WellFormedToken(fresh) {
			t.Fatalf("WellFormedToken(%q) = false for a new token", fresh)
		}
	})
}

func TestTokenRecordRoundTrip(t *testing.T) {
	t.Parallel()
	key := model.TokenKey(model.NewTokenValue())
	at := time.Date(2030, 1, 2, 3, 4, 5, 678, time.UTC)
	for _, tok := range []model.Token{
		{ID: "abcdefghijkm", UserID: 1, CreatedAt: at, ExpiresAt: at.AddDate(1, 0, 0)},
		{ID: "x", UserID: 1 << 40, IPs: []string{"10.0.0.0/8", "2001:db8::/32", "::1"}, CreatedAt: time.Unix(0, 0).UTC(),
			ExpiresAt: at, LastUsedAt: at.Add(time.Nanosecond), LastUsedIP: "2001:db8::ffff:1"},
		{ID: "", UserID: 0, CreatedAt: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)},
	} {
		tok.Hash = hex.EncodeToString(key)
		got, err := model.DecodeToken(key, model.EncodeToken(&tok))
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash != tok.Hash || got.ID != tok.ID || got.UserID != tok.UserID || strings.Join(got.IPs, ",") != strings.Join(tok.IPs, ",") ||
			!got.CreatedAt.Equal(tok.CreatedAt) || !got.ExpiresAt.Equal(tok.ExpiresAt) || !got.LastUsedAt.Equal(tok.LastUsedAt) ||
			got.LastUsedAt.IsZero() != tok.LastUsedAt.IsZero() || got.LastUsedIP != tok.LastUsedIP {
			t.Errorf("round trip of %+v gave %+v", tok, got)
		}
	}
	good := model.EncodeToken(&model.Token{ID: "abc", UserID: 1, IPs: []string{"::1"}})
	for name, raw := range map[string][]byte{
		"empty": nil, "other version": append([]byte{9}, good[1:]...), "truncated": good[:len(good)-1],
		"trailing": append(append([]byte{}, good...), 0), "huge length": {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := model.DecodeToken(key, raw); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecodeTokenRecord(f *testing.F) {
	f.Add(model.EncodeToken(&model.Token{ID: "abc", UserID: 1, IPs: []string{"::1"}, CreatedAt: time.Unix(1, 2)}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		key := make([]byte, 32)
		tok, err := model.DecodeToken(key, raw)
		if err != nil {
			return
		}
		if again, err := model.DecodeToken(key, model.EncodeToken(&tok)); err != nil || again.ID != tok.ID || again.UserID != tok.UserID {
			t.Fatalf("re-encoding %+v: %+v, %v", tok, again, err)
		}
	})
}
