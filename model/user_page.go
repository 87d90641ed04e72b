package model

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// UserQuery asks for one page of the users, optionally only those whose
// username or email contains a text.
type UserQuery struct {
	// Search is the text looked for in usernames and emails, compared in
	// lower case; empty selects every user.
	Search string
	// Page counts from 1; PerPage is the page's size (both at least 1).
	Page, PerPage int
}

// UserPage is one page of users, ordered by id, and how many users match
// in all.
type UserPage struct {
	Users []User
	Total int
}

// Matches reports whether u is selected by q's search text.
func (q UserQuery) Matches(u User) bool {
	s := strings.ToLower(q.Search)
	return s == "" || strings.Contains(strings.ToLower(u.Username), s) || strings.Contains(strings.ToLower(u.Email), s)
}

// userBucket is the bucket Storm keeps User records in, keyed by the id
// as a big-endian int64, each record encoded as JSON.
var userBucket = []byte("User")

// dirEntry is one user in the directory (see listed) with the lower-cased
// texts a search looks in.
type dirEntry struct {
	u           User
	name, email string
}

// userDir is the users' directory, decoded and cached for one write
// generation (userGen, see Store.Update): with it, a page of 10,000 users costs
// what a page of 10 does, and a search compares short strings instead of
// decoding every record.
type userDir struct {
	// build lets one caller decode the users while the others wait for
	// its result instead of decoding them too.
	build   sync.Mutex
	mu      sync.Mutex
	gen     uint64
	valid   bool
	entries []dirEntry
}

// UsersPage returns page q.Page of the users that q selects and their
// number. The users come from the directory, decoded once per write
// generation: after that a request costs the page's copies only, however
// many users there are. They carry no password hash and no TOTP secret
// (a list never needs them; see listed).
func (s *Store) UsersPage(q UserQuery) (UserPage, error) {
	q.Page, q.PerPage = max(q.Page, 1), max(q.PerPage, 1)
	dir, err := s.userDirectory()
	if err != nil {
		return UserPage{}, err
	}
	search := strings.ToLower(q.Search)
	skip := (q.Page - 1) * q.PerPage
	var page UserPage
	if search == "" {
		from := min(skip, len(dir))
		to := min(from+q.PerPage, len(dir))
		page.Total = len(dir)
		page.Users = make([]User, 0, to-from)
		for _, e := range dir[from:to] {
			page.Users = append(page.Users, e.u)
		}
		return page, nil
	}
	for _, e := range dir {
		if !strings.Contains(e.name, search) && !strings.Contains(e.email, search) {
			continue
		}
		page.Total++
		if skip > 0 {
			skip--
		} else if len(page.Users) < q.PerPage {
			page.Users = append(page.Users, e.u)
		}
	}
	return page, nil
}

// userDirectory returns the cached directory if no write committed since
// it was built, else builds it in a read transaction. The generation is
// read before the records: a write that commits meanwhile moves it on, so
// a directory built from older records is never kept under the newer one.
// The caller must not change the returned slice.
func (s *Store) userDirectory() ([]dirEntry, error) {
	d := &s.users
	cached := func(gen uint64) ([]dirEntry, bool) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.entries, d.valid && d.gen == gen
	}
	if entries, ok := cached(s.userGen.Load()); ok {
		return entries, nil
	}
	d.build.Lock()
	defer d.build.Unlock()
	gen := s.userGen.Load()
	if entries, ok := cached(gen); ok { // built while this caller waited
		return entries, nil
	}
	var entries []dirEntry
	err := s.View(func(tx *Tx) error {
		b := tx.b.Bucket(userBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil || len(k) != 8 { // Storm's index and metadata buckets
				continue
			}
			u, err := decodeUser(v)
			if err != nil {
				return fmt.Errorf("decode user %x: %w", k, err)
			}
			u = listed(u)
			entries = append(entries, dirEntry{u: u, name: strings.ToLower(u.Username), email: strings.ToLower(u.Email)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("model: list users: %w", err)
	}
	d.mu.Lock()
	d.gen, d.valid, d.entries = gen, true, entries
	d.mu.Unlock()
	return entries, nil
}

// listed is u as lists hold it: without the password hash and the sealed
// TOTP secret, which no list shows, so the cached directory keeps no
// secret. The recovery code hashes stay: the User tab shows how many are
// left.
func listed(u User) User {
	u.PasswordHash, u.TOTPSecret = "", nil
	return u
}

// decodeUser decodes a stored user record in one pass (User.UnmarshalJSON
// would scan it twice).
func decodeUser(v []byte) (User, error) {
	type plain User
	var p plain
	if err := json.Unmarshal(v, &p); err != nil {
		return User{}, err
	}
	if p.Role == "" {
		p.Role = RoleAdmin
	}
	return User(p), nil
}
