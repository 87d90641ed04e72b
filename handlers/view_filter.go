package handlers

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// viewPerPage is the page size of the Sessions and Audit Log views.
const viewPerPage = 50

// viewFilter is the state of the filter form of a list view (Sessions,
// Audit Log): the values as typed, the messages of refused ones (shown at
// their field, answered with 422) and the page.
type viewFilter struct {
	path   string
	Values map[string]string
	Errors map[string]string
	Page   int
}

// newViewFilter reads fields (and page) from the query of a view at path.
func newViewFilter(c *fiber.Ctx, path string, fields ...string) *viewFilter {
	f := &viewFilter{path: path, Values: map[string]string{}, Errors: map[string]string{}, Page: 1}
	for _, name := range fields {
		f.Values[name] = strings.TrimSpace(c.Query(name))
	}
	if s := c.Query("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1<<20 {
			f.Errors["page"] = "page must be a whole number from 1 to " + strconv.Itoa(1<<20)
		} else {
			f.Page = n
		}
	}
	return f
}

// fail records the message of a refused field.
func (f *viewFilter) fail(field, msg string) { f.Errors[field] = msg }

// Failed reports whether any field was refused.
func (f *viewFilter) Failed() bool { return len(f.Errors) > 0 }

// userFilter reads the user field: a username, which only an admin may
// name (a member's views show only themselves); 0 for none.
func (h *Handler) userFilter(c *fiber.Ctx, f *viewFilter) int {
	name := f.Values["user"]
	if name == "" {
		return 0
	}
	me, _ := currentUser(c)
	if !me.IsAdmin() {
		if !strings.EqualFold(name, me.Username) {
			f.fail("user", "you can see only your own; leave the user empty")
		}
		return me.ID
	}
	u, err := h.store.UserByName(name)
	if err != nil {
		f.fail("user", "there is no user named "+strconv.Quote(name))
		return 0
	}
	return u.ID
}

// URL is the view's address with the filter and page; extra pairs (key,
// value) replace or add query parameters (format=csv).
func (f *viewFilter) URL(page int, extra ...string) string {
	q := url.Values{}
	for k, v := range f.Values {
		if v != "" {
			q.Set(k, v)
		}
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	if len(q) == 0 {
		return f.path
	}
	return f.path + "?" + q.Encode()
}

// viewPager is the paging of a list view: which page of how many, and
// the links to the neighbours (empty at the ends).
type viewPager struct {
	Page, Pages, Total, From, To int
	Prev, Next                   string
}

// pager pages total items by viewPerPage for f; a page past the end
// shows the last.
func (f *viewFilter) pager(total int) viewPager {
	_, _, pages := pageSpan(1, viewPerPage, total)
	f.Page = min(f.Page, pages)
	p := viewPager{Page: f.Page, Pages: pages, Total: total}
	p.From, p.To, _ = pageSpan(f.Page, viewPerPage, total)
	if f.Page > 1 {
		p.Prev = f.URL(f.Page - 1)
	}
	if f.Page < pages {
		p.Next = f.URL(f.Page + 1)
	}
	return p
}

// pageSpan gives the items page (from 1) shows of total, perPage a page,
// counted from 1 (0 and 0 past the end), and the number of pages (at
// least one): the arithmetic of every pager (the list views, the User tab).
func pageSpan(page, perPage, total int) (from, to, pages int) {
	pages = max(1, (total+perPage-1)/perPage)
	if first := (page-1)*perPage + 1; first <= total {
		from, to = first, min(first+perPage-1, total)
	}
	return from, to, pages
}

// userNames caches usernames by id for one rendering; a deleted user is
// "user #N".
type userNames struct {
	h     *Handler
	names map[int]string
}

func (n *userNames) name(id int) (string, error) {
	if s, ok := n.names[id]; ok {
		return s, nil
	}
	s := "user #" + strconv.Itoa(id)
	u, err := n.h.store.User(id)
	switch {
	case err == nil:
		s = u.Username
	case !errors.Is(err, model.ErrNotFound):
		return "", err
	}
	if n.names == nil {
		n.names = map[int]string{}
	}
	n.names[id] = s
	return s, nil
}
