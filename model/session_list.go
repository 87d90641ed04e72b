package model

import (
	"fmt"
	"sort"
)

// Session audit events: sessions ended by someone (the logout of one's
// own session is EventLogout).
const (
	EventSessionEnded  = "session.ended"
	EventSessionsEnded = "sessions.ended"
)

// SessionUserAgentMaxLen bounds the User-Agent a session keeps, in bytes
// after escaping.
const SessionUserAgentMaxLen = 256

// publicIDLen is the length of a session's public id in hex digits (80
// bits: no two sessions of a user collide).
const publicIDLen = 20

// SessionPublicID is the id under which the session with storage id id
// is shown and ended: an HMAC of the storage id under the data
// directory's key. It is neither the cookie's secret nor the storage key,
// so a listing never hands out what would sign in or what a copied
// database would match.
func (s *Store) SessionPublicID(id string) string {
	return MAC(s.key, "session-public-id", id)[:publicIDLen]
}

// SessionUserAgent returns the session's User-Agent bounded and with
// control and format characters escaped, as the audit log shows outside
// text (sessions stored before this rule may hold the raw header).
func (sess Session) SessionUserAgent() string {
	return auditText(sess.UserAgent, SessionUserAgentMaxLen)
}

// LiveSessionsOf returns the sessions of userID that are still live
// under p, with exact last-seen times, the most recently used first.
func (s *Store) LiveSessionsOf(userID int, p SessionPolicy) ([]Session, error) {
	all, err := s.SessionsOf(userID)
	if err != nil {
		return nil, fmt.Errorf("model: sessions of user %d: %w", userID, err)
	}
	now := s.now()
	live := all[:0]
	for _, sess := range all {
		if !sess.Expired(p, now) {
			live = append(live, sess)
		}
	}
	return live, nil
}

// EndUserSession ends the session of userID whose public id is publicID
// (see SessionPublicID) and audits it; ErrNotFound when userID has no such
// session. It returns the storage id of the ended session.
func (s *Store) EndUserSession(userID int, publicID string, by Actor) (string, error) {
	var ended string
	err := s.Update(func(tx *Tx) error {
		u, list, err := tx.sessionsOf(userID)
		if err != nil {
			return err
		}
		for i := range list {
			if !MACEqual(s.SessionPublicID(list[i].ID), publicID) {
				continue
			}
			if err := tx.n.DeleteStruct(&list[i]); err != nil {
				return err
			}
			ended = list[i].ID
			return tx.Audit(by, EventSessionEnded, u.ID, u.Username, "session "+publicID)
		}
		return ErrNotFound
	})
	if err != nil {
		return "", fmt.Errorf("model: end session of user %d: %w", userID, err)
	}
	s.seen.forget(ended)
	return ended, nil
}

// EndSessionsOf ends every session of userID except keep (a storage id;
// empty ends them all), audits how many ended (when any), and returns
// that number.
func (s *Store) EndSessionsOf(userID int, keep string, by Actor) (int, error) {
	n := 0
	err := s.Update(func(tx *Tx) error {
		u, list, err := tx.sessionsOf(userID)
		if err != nil {
			return err
		}
		for i := range list {
			if list[i].ID != keep {
				n++
			}
		}
		if n == 0 {
			return nil // nothing happened, nothing to audit
		}
		if err := tx.deleteSessionsOf(userID, keep); err != nil {
			return err
		}
		return tx.Audit(by, EventSessionsEnded, u.ID, u.Username, fmt.Sprintf("%d sessions", n))
	})
	if err != nil {
		return 0, fmt.Errorf("model: end sessions of user %d: %w", userID, err)
	}
	return n, nil
}

// sessionsOf returns the user userID (ErrNotFound if there is none) and
// its stored sessions.
func (tx *Tx) sessionsOf(userID int) (User, []Session, error) {
	u, err := tx.User(userID)
	if err != nil {
		return User{}, nil, err
	}
	list, err := tx.storedSessionsOf(userID)
	return u, list, err
}

// LiveSessions returns the sessions still live under p, with exact
// last-seen times, the most recently used first: those of userID, or of
// every user when userID is 0 (the Sessions view of an admin).
func (s *Store) LiveSessions(userID int, p SessionPolicy) ([]Session, error) {
	if userID != 0 {
		return s.LiveSessionsOf(userID, p)
	}
	var all []Session
	err := s.View(func(tx *Tx) error {
		if err := tx.n.All(&all); err != nil {
			return fmt.Errorf("model: all sessions: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := s.now()
	live := all[:0]
	for _, sess := range all {
		sess = s.seen.merge(sess)
		if !sess.Expired(p, now) {
			live = append(live, sess)
		}
	}
	sort.SliceStable(live, func(i, j int) bool { return live[i].LastSeen.After(live[j].LastSeen) })
	return live, nil
}
