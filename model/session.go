package model

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// Session is a browser login. The cookie holds a random 256-bit value; only
// its SHA-256 is stored, as the record's key, so a copied database does not
// hold usable sessions and a lookup is one read by key.
type Session struct {
	ID        string `storm:"id"` // HashToken(cookie value)
	UserID    int    `storm:"index"`
	CreatedAt time.Time
	LastSeen  time.Time
	IP        string
	UserAgent string
	// AuthAt is when the user last proved who they are in this session:
	// the sign-in itself, or a later re-authentication (MarkReauth). The
	// step-up rule of the panel (handlers/stepup.go) lets sensitive
	// changes through only for a while after it, so a copied session
	// cookie alone does not take over an account.
	AuthAt time.Time
}

// AuthenticatedWithin reports whether the session's user proved who they
// are less than window before now.
func (s Session) AuthenticatedWithin(window time.Duration, now time.Time) bool {
	return !s.AuthAt.IsZero() && now.Sub(s.AuthAt) < window
}

// SessionPolicy bounds how long a session lives.
type SessionPolicy struct {
	Idle time.Duration // since last use
	Max  time.Duration // since login
}

// Expired reports whether s is past its idle or absolute timeout at now.
func (s Session) Expired(p SessionPolicy, now time.Time) bool {
	return now.Sub(s.LastSeen) >= p.Idle || now.Sub(s.CreatedAt) >= p.Max
}

// CreateSession starts a session for userID and returns the cookie value
// (shown to the browser only) and the stored record. A new id at every
// login means a session id planted before login is worthless. The login is
// audited (with method, e.g. "password") in the same transaction.
func (s *Store) CreateSession(userID int, ip, userAgent string, by Actor, method string) (string, Session, error) {
	token := RandomToken(32)
	now := s.now().UTC()
	userAgent = auditText(userAgent, SessionUserAgentMaxLen)
	sess := Session{ID: HashToken(token), UserID: userID, CreatedAt: now, LastSeen: now, IP: ip, UserAgent: userAgent, AuthAt: now}
	err := s.Update(func(tx *Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		if err := refuseSignIn(u, ErrNotFound); err != nil {
			return err
		}
		if err := tx.n.Save(&sess); err != nil {
			return err
		}
		u.LastLoginAt = now
		if err := tx.n.Save(&u); err != nil {
			return fmt.Errorf("model: save user %d: %w", u.ID, err)
		}
		return tx.Audit(by, EventLoginSucceeded, u.ID, u.Username, method)
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("model: create session: %w", err)
	}
	return token, sess, nil
}

// SessionByToken returns the live session for a cookie value and its user,
// in one read transaction: the sign-in of every request with a session
// cookie. Expired sessions and sessions of deleted users are ErrNotFound;
// a user that SignInAllowed refuses is ErrSignInRefused (and ErrNotFound).
func (s *Store) SessionByToken(token string, p SessionPolicy) (sess Session, u User, err error) {
	if token == "" || len(token) > 128 {
		return Session{}, User{}, ErrNotFound
	}
	id := HashToken(token)
	err = s.View(func(tx *Tx) error {
		if err := tx.n.One("ID", id, &sess); err != nil {
			return mapErr(err)
		}
		s.seen.seed(sess)
		sess = s.seen.merge(sess)
		if sess.Expired(p, s.now()) {
			return ErrNotFound
		}
		if u, err = tx.User(sess.UserID); err != nil {
			return err
		}
		return refuseSignIn(u, ErrNotFound)
	})
	if err != nil {
		return Session{}, User{}, err
	}
	return sess, u, nil
}

// MarkReauth records that the session's user re-authenticated now (a
// password, a code or a passkey): the step-up window starts again.
func (s *Store) MarkReauth(id string) error {
	now := s.now().UTC()
	return s.Update(func(tx *Tx) error {
		return mapErr(tx.n.UpdateField(&Session{ID: id}, "AuthAt", now))
	})
}

// DeleteSession ends one session; a missing session is not an error.
func (s *Store) DeleteSession(id string) error {
	defer s.seen.forget(id)
	return s.Update(func(tx *Tx) error {
		err := tx.n.DeleteStruct(&Session{ID: id})
		if errors.Is(mapErr(err), ErrNotFound) {
			return nil
		}
		return err
	})
}

// EndSession ends a session at logout and audits it in one transaction.
func (s *Store) EndSession(id string, by Actor) error {
	defer s.seen.forget(id)
	return s.Update(func(tx *Tx) error {
		var sess Session
		if err := tx.n.One("ID", id, &sess); err != nil {
			return mapErr(err)
		}
		if err := tx.n.DeleteStruct(&sess); err != nil {
			return err
		}
		return tx.Audit(by, EventLogout, by.UserID, by.Name, "")
	})
}

// SessionsOf returns the sessions of a user, with their exact last-seen
// times, the most recently used first, expired ones included
// (PurgeSessions deletes them).
func (s *Store) SessionsOf(userID int) (out []Session, err error) {
	err = s.View(func(tx *Tx) error {
		out, err = tx.storedSessionsOf(userID)
		return err
	})
	for i := range out {
		out[i] = s.seen.merge(out[i])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out, err
}

// storedSessionsOf returns the sessions of userID as stored (none is not
// an error).
func (tx *Tx) storedSessionsOf(userID int) ([]Session, error) {
	var list []Session
	if err := tx.n.Find("UserID", userID, &list); err != nil && !errors.Is(mapErr(err), ErrNotFound) {
		return nil, fmt.Errorf("model: sessions of user %d: %w", userID, err)
	}
	return list, nil
}

// deleteSessionsOf ends all sessions of userID except keep (a session id).
func (tx *Tx) deleteSessionsOf(userID int, keep string) error {
	list, err := tx.storedSessionsOf(userID)
	if err != nil {
		return err
	}
	for i := range list {
		if list[i].ID == keep {
			continue
		}
		if err := tx.n.DeleteStruct(&list[i]); err != nil {
			return fmt.Errorf("model: end session: %w", err)
		}
		tx.s.seen.forget(list[i].ID)
	}
	return nil
}

// PurgeSessions deletes the sessions that expired under p (judged by
// their exact last-seen times) and returns how many it deleted. It also
// drops the in-memory last-seen times of sessions no longer stored.
func (s *Store) PurgeSessions(p SessionPolicy) (int, error) {
	now := s.now()
	n := 0
	live := map[string]bool{}
	err := s.Update(func(tx *Tx) error {
		var list []Session
		if err := tx.n.All(&list); err != nil {
			return err
		}
		for i := range list {
			if !s.seen.merge(list[i]).Expired(p, now) {
				live[list[i].ID] = true
				continue
			}
			if err := tx.n.DeleteStruct(&list[i]); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	s.seen.mu.Lock()
	for id := range s.seen.m {
		if !live[id] {
			delete(s.seen.m, id)
		}
	}
	s.seen.mu.Unlock()
	return n, nil
}
