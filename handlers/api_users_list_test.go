package handlers

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestAPIUsersSearchAndPages: GET /api/v1/users takes ?q= (username or
// email contains, ignoring case), ?page= and ?per_page=; total counts all
// matches, not the page; out-of-range paging is a 422 naming the field.
func TestAPIUsersSearchAndPages(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t)
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
		testkit.AddUser(t, ta.Store, name)
	}
	token, _ := ta.Token(t, ta.Admin)
	list := func(query string) ([]string, float64) {
		t.Helper()
		r := ta.Do(t, request{Method: "GET", URL: "/api/v1/users" + query, Token: token})
		wantAnswer(t, r, 200)
		var names []string
		for _, it := range r.Items() {
			names = append(names, fmt.Sprint(it["username"]))
		}
		total, _ := r.JSON["total"].(float64)
		return names, total
	}
	for _, tc := range []struct {
		query string
		want  []string
		total float64
	}{
		{"", []string{"admin", "alice", "bob", "carol", "dave", "erin"}, 6},
		{"?q=AL", []string{"alice"}, 1},
		{"?q=bob%40example", []string{"bob"}, 1},
		{"?q=nobody", nil, 0},
		{"?per_page=2", []string{"admin", "alice"}, 6},
		{"?per_page=2&page=3", []string{"dave", "erin"}, 6},
		{"?per_page=2&page=4", nil, 6},
		{"?q=%40EXAMPLE.com&per_page=4&page=2", []string{"dave", "erin"}, 6},
	} {
		names, total := list(tc.query)
		if !slices.Equal(names, tc.want) || total != tc.total {
			t.Errorf("GET /api/v1/users%s = %v (total %v), want %v (total %v)", tc.query, names, total, tc.want, tc.total)
		}
	}
	for _, query := range []string{"?page=0", "?per_page=0", "?per_page=501", "?page=x"} {
		r := ta.Do(t, request{Method: "GET", URL: "/api/v1/users" + query, Token: token})
		wantAnswer(t, r, 422)
	}
}
