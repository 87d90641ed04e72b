package model_test

import (
	"slices"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func pageNames(t *testing.T, s *model.Store, q model.UserQuery) ([]string, int) {
	t.Helper()
	p, err := s.UsersPage(q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range p.Users {
		if u.PasswordHash != "" || u.TOTPSecret != nil || u.Email == "" {
			t.Errorf("user %s listed with secrets or without its record: %+v", u.Username, u)
		}
		names = append(names, u.Username)
	}
	return names, p.Total
}

// TestUsersPage: pages in id order with the total of all matches, a search
// in usernames and emails ignoring case, pages past the end empty.
func TestUsersPage(t *testing.T) {
	s := testkit.NewStore(t)
	for _, n := range []string{"alice", "Bob", "carol", "dave", "erin"} {
		testkit.AddUser(t, s, n)
	}
	testkit.CreateUser(t, s, "frank", testkit.UserPassword, "FRANK@Corp.example")
	cases := []struct {
		q     model.UserQuery
		want  []string
		total int
	}{
		{model.UserQuery{Page: 1, PerPage: 2}, []string{"alice", "Bob"}, 6},
		{model.UserQuery{Page: 3, PerPage: 2}, []string{"erin", "frank"}, 6},
		{model.UserQuery{Page: 4, PerPage: 2}, nil, 6},
		{model.UserQuery{}, []string{"alice"}, 6}, // page and size at least 1
		{model.UserQuery{Search: "BOB", Page: 1, PerPage: 10}, []string{"Bob"}, 1},
		{model.UserQuery{Search: "corp", Page: 1, PerPage: 10}, []string{"frank"}, 1},
		{model.UserQuery{Search: "example", Page: 2, PerPage: 4}, []string{"erin", "frank"}, 6},
		{model.UserQuery{Search: "r", Page: 1, PerPage: 2}, []string{"carol", "erin"}, 3}, // and frank
		{model.UserQuery{Search: "nobody", Page: 1, PerPage: 10}, nil, 0},
	}
	for _, tc := range cases {
		got, total := pageNames(t, s, tc.q)
		if !slices.Equal(got, tc.want) || total != tc.total {
			t.Errorf("UsersPage(%+v) = %v, %d; want %v, %d", tc.q, got, total, tc.want, tc.total)
		}
	}
}

// TestUsersPageFollowsWrites: the cached directory never serves a list
// from before a committed create, rename or delete.
func TestUsersPageFollowsWrites(t *testing.T) {
	s := testkit.NewStore(t)
	a := testkit.AddUser(t, s, "alice")
	b := testkit.AddUser(t, s, "bob")
	all := model.UserQuery{Page: 1, PerPage: 10}
	if got, n := pageNames(t, s, all); n != 2 || len(got) != 2 {
		t.Fatalf("got %v, %d", got, n)
	}
	testkit.AddUser(t, s, "carol")
	if got, n := pageNames(t, s, all); !slices.Equal(got, []string{"alice", "bob", "carol"}) || n != 3 {
		t.Errorf("after a create: %v, %d", got, n)
	}
	name := "zed"
	if _, err := s.UpdateUser(b.ID, model.UserPatch{Username: &name}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if got, n := pageNames(t, s, model.UserQuery{Search: "zed", Page: 1, PerPage: 10}); !slices.Equal(got, []string{"zed"}) || n != 1 {
		t.Errorf("after a rename: %v, %d", got, n)
	}
	if err := s.DeleteUser(a.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if got, n := pageNames(t, s, all); !slices.Equal(got, []string{"zed", "carol"}) || n != 2 {
		t.Errorf("after a delete: %v, %d", got, n)
	}
}

// TestUserQueryMatches is the check a member's own one-row list uses; it
// agrees with the store's search.
func TestUserQueryMatches(t *testing.T) {
	u := model.User{Username: "Kate", Email: "kate@Example.org"}
	for q, want := range map[string]bool{"": true, "KAT": true, "example.ORG": true, "bob": false} {
		if got := (model.UserQuery{Search: q}).Matches(u); got != want {
			t.Errorf("Matches(%q) = %v, want %v", q, got, want)
		}
	}
}
