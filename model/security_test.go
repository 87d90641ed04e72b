package model_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestSecuritySummary builds 200 days of history on a real store with the
// test clock and checks each list of the summary: who has no 2FA, whose
// password is older than 180 days, who has not signed in for 90 days
// (never signed in counts from the creation), which tokens have no IP
// white list or expire more than a year from now. Disabled accounts and
// expired tokens are left out.
func TestSecuritySummary(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	day := 24 * time.Hour
	login := func(u model.User) {
		t.Helper()
		if _, _, err := s.CreateSession(u.ID, "192.0.2.1", "ua", model.ActorFor(u, "192.0.2.1"), "password"); err != nil {
			t.Fatal(err)
		}
	}
	token := func(u model.User, ips []string, expires time.Time) model.Token {
		t.Helper()
		_, tok, err := s.CreateToken(u.ID, model.NewToken{IPs: ips, ExpiresAt: expires}, model.CLIActor)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	// Day 0.
	old := testkit.AddUser(t, s, "old")       // never signs in, never changes the password
	lapsed := testkit.AddUser(t, s, "lapsed") // signs in on day 100 only
	active := testkit.AddUser(t, s, "active") // 2FA, new password on day 150, signs in on day 199
	off := testkit.CreateMember(t, s, "off")  // disabled: left out
	testkit.EnableTwoFactor(t, s, active)
	disabled := true
	if _, err := s.UpdateUser(off.ID, model.UserPatch{Disabled: &disabled}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * day)
	login(lapsed)
	clock.Advance(50 * day)
	if err := s.SetPassword(context.Background(), active.ID, "new-pass-150", "", model.CLIActor); err != nil {
		t.Fatal(err)
	}
	newbie := testkit.AddUser(t, s, "newbie") // created on day 150, never signs in: not unused yet
	clock.Advance(49 * day)
	login(active)
	open := token(active, nil, clock.Now().Add(30*day))
	far := token(active, []string{"10.0.0.0/8"}, clock.Now().Add(2*365*day))
	token(active, nil, clock.Now().Add(time.Hour))                    // expired on day 200
	token(off, nil, clock.Now().Add(30*day))                          // of a disabled account
	token(newbie, []string{"192.0.2.0/24"}, clock.Now().Add(364*day)) // within a year of day 200
	clock.Advance(day)

	sum, err := s.SecuritySummary()
	if err != nil {
		t.Fatal(err)
	}
	names := func(us []model.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	tokens := func(fs []model.TokenFinding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.User.Username+"/"+f.Token.ID)
		}
		return out
	}
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"without 2FA", names(sum.NoTwoFactor), []string{old.Username, lapsed.Username, newbie.Username}},
		{"old passwords", names(sum.OldPasswords), []string{old.Username, lapsed.Username}},
		{"unused", names(sum.Unused), []string{old.Username, lapsed.Username}},
		{"tokens without IP list", tokens(sum.OpenTokens), []string{"active/" + open.ID}},
		{"tokens expiring in more than a year", tokens(sum.FarTokens), []string{"active/" + far.ID}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if sum.Empty() {
		t.Error("Empty() with findings")
	}

	// The thresholds themselves, at their edges.
	now := clock.Now()
	u := model.User{CreatedAt: now.Add(-model.UnusedAfter), PasswordChangedAt: now.Add(-model.PasswordMaxAge)}
	if u.Unused(now) || u.PasswordOld(now) {
		t.Error("exactly at the thresholds counts as unused or old")
	}
	if !u.Unused(now.Add(time.Second)) || !u.PasswordOld(now.Add(time.Second)) {
		t.Error("past the thresholds does not count as unused and old")
	}
	u.LastLoginAt = now
	if u.Unused(now.Add(time.Second)) {
		t.Error("a sign-in now counts as unused")
	}
}

// TestSecuritySummaryEmpty: a store whose only user follows the advice has
// nothing to act on.
func TestSecuritySummaryEmpty(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	u := testkit.AddUser(t, s, "alice")
	testkit.EnableTwoFactor(t, s, u)
	sum, err := s.SecuritySummary()
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Empty() {
		t.Errorf("summary %+v, want empty", sum)
	}
}
