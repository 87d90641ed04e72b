package handlers

import (
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestUserListPagedAndSearched: the User tab shows one page of the users
// with a pager that keeps the search, and ?q= searches usernames and
// emails; a member's list holds only themselves, whatever the search.
func TestUserListPagedAndSearched(t *testing.T) {
	ta := newTestApp(t)
	for _, n := range []string{"bob", "carol", "dave"} {
		testkit.AddUser(t, ta.Store, n)
	}
	s := ta.Session(t, ta.Admin)
	get := func(url string) string {
		t.Helper()
		r := ta.Do(t, request{URL: url, Session: s})
		if r.Status != 200 {
			t.Fatalf("GET %s: %d", url, r.Status)
		}
		return r.Body
	}
	has := func(body string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("page lacks %q", w)
			}
		}
	}
	hasNot := func(body string, notWant ...string) {
		t.Helper()
		for _, w := range notWant {
			if strings.Contains(body, w) {
				t.Errorf("page has %q", w)
			}
		}
	}
	first := get("/settings/users?per_page=2")
	has(first, `data-username="admin"`, `data-username="bob"`, "1–2 of 4", `href="/settings/users?page=2&amp;per_page=2" rel="next"`, `data-testid="user-search"`)
	hasNot(first, `data-username="carol"`, `rel="prev"`)
	second := get("/settings/users?page=2&per_page=2")
	has(second, `data-username="carol"`, `data-username="dave"`, "3–4 of 4", `href="/settings/users?per_page=2" rel="prev"`)
	hasNot(second, `data-username="bob"`, `rel="next"`)
	found := get("/settings/users?q=CAR")
	has(found, `data-username="carol"`, "1–1 of 1", `value="CAR"`)
	hasNot(found, `data-username="bob"`)
	has(get("/settings/users?q=nobody"), "No users match.")
	// A bad value shows the first page rather than an error.
	has(get("/settings/users?page=0"), `data-username="admin"`, "1–4 of 4")

	bob := storedUser(t, ta, "bob")
	member := ta.Session(t, testkit.CreateMember(t, ta.Store, "erin"))
	r := ta.Do(t, request{URL: "/settings/users?q=bob", Session: member})
	if strings.Contains(r.Body, `data-username="`+bob.Username+`"`) || !strings.Contains(r.Body, "No users match.") {
		t.Errorf("a member's search shows others or misses the empty state: %d %s", r.Status, r.Body)
	}
}
