package model

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// SessionWriteEvery is how often, at most, a session's last-seen time is
// written to disk while it is in use: a disk sync per request would be
// too costly, so the exact time is kept in memory (sessionSeen) and idle
// expiry is decided against it, at any idle limit.
const SessionWriteEvery = time.Minute

// sessionSeen keeps the exact last-seen time of the sessions used since
// the store opened, keyed by session id (the token's hash). An entry is
// made only for a stored session and removed when the session ends, so
// the map never holds more entries than there are live sessions.
type sessionSeen struct {
	mu sync.Mutex
	m  map[string]seenEntry
}

// seenEntry is a session's last use and the last-seen time on disk.
type seenEntry struct {
	last, written time.Time
}

// merge returns sess with LastSeen raised to the in-memory last use.
func (ss *sessionSeen) merge(sess Session) Session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if e, ok := ss.m[sess.ID]; ok && e.last.After(sess.LastSeen) {
		sess.LastSeen = e.last
	}
	return sess
}

// seed remembers the stored last-seen time of a session just read from
// disk, so that the next TouchSession knows how old the disk copy is.
func (ss *sessionSeen) seed(stored Session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, ok := ss.m[stored.ID]; ok {
		return
	}
	if ss.m == nil {
		ss.m = map[string]seenEntry{}
	}
	ss.m[stored.ID] = seenEntry{last: stored.LastSeen, written: stored.LastSeen}
}

// forget drops the entries of ended sessions.
func (ss *sessionSeen) forget(ids ...string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, id := range ids {
		delete(ss.m, id)
	}
}

// TouchSession records that the session id was used now. The time is kept
// in memory and written to disk at most once per SessionWriteEvery (and at
// Close); a missing (ended) session is not an error and leaves nothing in
// memory.
func (s *Store) TouchSession(id string) error {
	now := s.now().UTC()
	ss := &s.seen
	ss.mu.Lock()
	e, known := ss.m[id]
	if known && now.Sub(e.written) < SessionWriteEvery {
		if now.After(e.last) {
			e.last = now
			ss.m[id] = e
		}
		ss.mu.Unlock()
		return nil
	}
	ss.mu.Unlock()
	found, err := s.writeLastSeen(id, now)
	if err != nil {
		return err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !found {
		delete(ss.m, id)
		return nil
	}
	if ss.m == nil {
		ss.m = map[string]seenEntry{}
	}
	e = ss.m[id]
	if now.After(e.last) {
		e.last = now
	}
	e.written = now
	ss.m[id] = e
	return nil
}

// writeLastSeen stores at as the last-seen time of session id and reports
// whether the session still exists.
func (s *Store) writeLastSeen(id string, at time.Time) (found bool, err error) {
	err = s.updateKeepUsers(func(tx *Tx) error {
		err := tx.n.UpdateField(&Session{ID: id}, "LastSeen", at)
		if errors.Is(mapErr(err), ErrNotFound) {
			return nil // logged out meanwhile
		}
		found = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("model: touch session: %w", err)
	}
	return found, nil
}

// flushSessionsSeen writes the last-seen times not yet on disk, in one
// transaction; Close calls it so a restart keeps them.
func (s *Store) flushSessionsSeen() error {
	s.seen.mu.Lock()
	pending := map[string]time.Time{}
	for id, e := range s.seen.m {
		if e.last.After(e.written) {
			pending[id] = e.last
		}
	}
	s.seen.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	err := s.updateKeepUsers(func(tx *Tx) error {
		for id, at := range pending {
			err := tx.n.UpdateField(&Session{ID: id}, "LastSeen", at)
			if err != nil && !errors.Is(mapErr(err), ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("model: write sessions' last-seen times: %w", err)
	}
	s.seen.mu.Lock()
	defer s.seen.mu.Unlock()
	for id, at := range pending {
		if e, ok := s.seen.m[id]; ok && at.After(e.written) {
			e.written = at
			s.seen.m[id] = e
		}
	}
	return nil
}
