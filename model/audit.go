package model

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Audit event actions.
const (
	EventLoginSucceeded  = "login.succeeded"
	EventLoginFailed     = "login.failed"
	EventLogout          = "logout"
	EventUserCreated     = "user.created"
	EventUserRenamed     = "user.renamed"
	EventEmailChanged    = "user.email_changed"
	EventPasswordChanged = "user.password_changed"
	EventUserDeleted     = "user.deleted"
	EventRoleChanged     = "user.role_changed"
	EventUserDisabled    = "user.disabled"
	EventUserEnabled     = "user.enabled"
)

// EventRequestThrottled records requests refused by the failure limiter.
const EventRequestThrottled = "request.throttled"

// DefaultAuditMax is how many aggregated outside failures are kept (see
// AuditEvent); older aggregates are dropped.
const DefaultAuditMax = 10000

// DefaultAuditRetention is how long security events and sign-ins are kept.
const DefaultAuditRetention = 365 * 24 * time.Hour

// AuditWindow is the window outside failures are aggregated in: one event
// per address, action and window, with a count.
const AuditWindow = time.Minute

// Bounds of the text an audit event stores, in bytes after escaping (see
// auditText). Names (actor, target) and the address come from outside on
// failures: the name typed at a failed login, for one.
const (
	AuditNameMaxLen   = 128
	AuditDetailMaxLen = 2048
)

// AuditEvent is one security-relevant event. It never holds a secret.
//
// The log has two streams. Security changes and sign-ins (everything done
// by or to a known account, by the CLI, or by a token) are kept by age
// (Options.AuditRetention) and never make room for anything else.
// Failures from outside (a login of an unknown name, an unknown token, a
// throttled request: no known actor or target) are aggregated per address,
// action and AuditWindow into one event with a Count, and kept in a
// separate stream bounded by count (Options.AuditMax). So no amount of
// noise from outside can push a security event out.
type AuditEvent struct {
	ID      uint64
	Time    time.Time // of the first event counted
	Action  string
	ActorID int
	Actor   string // username, "cli" or "system"; for failed logins the (first) name tried
	Via     string `json:",omitempty"` // see Actor.Via
	// TokenCreatedBy is Actor.TokenCreator: who created the token acting.
	TokenCreatedBy string `json:",omitempty"`
	TargetID       int
	Target         string
	IP             string
	Detail         string // e.g. "old → new", or a failure's reason class (of the first counted)
	Count          int    `json:",omitempty"` // events counted in an aggregate; 0 for a single event
}

// Outside reports whether e is a failure from outside: no known actor or
// target, no way of acting. Those are aggregated (see AuditEvent).
func (e *AuditEvent) Outside() bool {
	if e.ActorID != 0 || e.TargetID != 0 || e.Via != "" {
		return false
	}
	switch e.Action {
	case EventLoginFailed, EventTokenRefused, EventRequestThrottled:
		return true
	}
	return false
}

// Kept in plain bbolt buckets: key the event id (8 bytes, big-endian, from
// bucketAudit's sequence for both streams, so ids order all events), value
// its JSON. Not Storm records: Storm's id index makes every Save scan all
// ids, and this log is written on every change. bucketAuditOutside's own
// sequence is the number of aggregates it holds.
var (
	bucketAudit        = []byte("gh_audit")
	bucketAuditOutside = []byte("gh_audit_outside")
)

// Audit records an event inside tx, so that it commits together with the
// change it describes.
func (tx *Tx) Audit(by Actor, action string, targetID int, target, detail string) error {
	e := newAuditEvent(tx.s.now(), by, action, targetID, target, detail)
	if e.Outside() {
		e.Count = 1
		_, err := tx.saveOutside(&e, 0)
		return err
	}
	return tx.saveAudit(&e)
}

// newAuditEvent is the one place an event's text is taken in, for
// Tx.Audit and AuditBuffer.Add alike: every text field goes through
// auditText, so that no caller can store raw outside input.
func newAuditEvent(now time.Time, by Actor, action string, targetID int, target, detail string) AuditEvent {
	return AuditEvent{Time: now.UTC(), Action: auditText(action, AuditNameMaxLen),
		ActorID: by.UserID, Actor: auditText(by.Name, AuditNameMaxLen), Via: auditText(by.Via, AuditNameMaxLen),
		TokenCreatedBy: auditText(by.TokenCreator, AuditNameMaxLen), TargetID: targetID, Target: auditText(target, AuditNameMaxLen),
		IP: auditText(by.IP, AuditNameMaxLen), Detail: auditText(detail, AuditDetailMaxLen)}
}

// auditText makes s safe to store and show in the audit log: characters
// that ValidateText refuses (control and format characters: NUL, escape
// sequences, bidi overrides, zero-width characters) become visible escapes
// (\x00, \u202e), invalid UTF-8 bytes become \xff, and the result is cut
// to at most max bytes, ending in "…" when cut. The escapes keep what an
// attacker sent readable without letting it reorder or hide the text
// around it, in the panel or in a terminal. Clean text under the bound is
// returned as is, without copying.
func auditText(s string, max int) string {
	clean := len(s) <= max
	for i := 0; clean && i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		clean = !(r == utf8.RuneError && n == 1) && !invisible(r)
		i += n
	}
	if clean {
		return s
	}
	const ellipsis = "…"
	var b strings.Builder
	// cut is the length of b at the last piece boundary that leaves room
	// for the ellipsis; the loop stops once b is past max.
	cut, i := 0, 0
	for i < len(s) && b.Len() <= max {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !invisible(r):
			b.WriteString(s[i : i+n])
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += n
		if b.Len() <= max-len(ellipsis) {
			cut = b.Len()
		}
	}
	if i == len(s) && b.Len() <= max {
		return b.String()
	}
	return b.String()[:cut] + ellipsis
}

func auditKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

// nextAuditID returns the next event id, shared by both streams.
func (tx *Tx) nextAuditID() (uint64, error) {
	b, err := tx.b.CreateBucketIfNotExists(bucketAudit)
	if err != nil {
		return 0, fmt.Errorf("model: audit bucket: %w", err)
	}
	id, err := b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("model: audit id: %w", err)
	}
	return id, nil
}

func putAudit(b *bolt.Bucket, e *AuditEvent) error {
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("model: audit %s: %w", e.Action, err)
	}
	if err := b.Put(auditKey(e.ID), v); err != nil {
		return fmt.Errorf("model: audit %s: %w", e.Action, err)
	}
	return nil
}

// saveAudit stores e in the security stream, kept by age (PruneAudit).
func (tx *Tx) saveAudit(e *AuditEvent) error {
	id, err := tx.nextAuditID()
	if err != nil {
		return err
	}
	e.ID = id
	return putAudit(tx.b.Bucket(bucketAudit), e)
}

// saveOutside stores the aggregate e in the outside stream: as a new event
// when id is 0 or that event is gone (dropped for room), else by adding
// e.Count to event id. It returns the id stored under, and drops the oldest
// aggregate past the bound.
func (tx *Tx) saveOutside(e *AuditEvent, id uint64) (uint64, error) {
	b, err := tx.b.CreateBucketIfNotExists(bucketAuditOutside)
	if err != nil {
		return 0, fmt.Errorf("model: audit bucket: %w", err)
	}
	if id != 0 {
		if v := b.Get(auditKey(id)); v != nil {
			var old AuditEvent
			if err := json.Unmarshal(v, &old); err != nil {
				return 0, fmt.Errorf("model: audit event %d: %w", id, err)
			}
			old.Count += e.Count
			return id, putAudit(b, &old)
		}
	}
	if e.ID, err = tx.nextAuditID(); err != nil {
		return 0, err
	}
	if err := putAudit(b, e); err != nil {
		return 0, err
	}
	n := b.Sequence() + 1
	for ; n > tx.s.auditMax; n-- {
		k, _ := b.Cursor().First()
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("model: drop old audit aggregate: %w", err)
		}
	}
	if err := b.SetSequence(n); err != nil {
		return 0, fmt.Errorf("model: audit aggregate count: %w", err)
	}
	return e.ID, nil
}

// PruneAudit drops security events older than the retention
// (Options.AuditRetention) and returns how many it dropped. Ids follow
// time, so it reads from the oldest and stops at the first event kept.
func (s *Store) PruneAudit() (int, error) {
	cutoff := s.now().Add(-s.auditRetention)
	var old [][]byte
	err := s.View(func(tx *Tx) error {
		b := tx.b.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var e AuditEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("model: audit event %x: %w", k, err)
			}
			if !e.Time.Before(cutoff) {
				break
			}
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil || len(old) == 0 {
		return 0, err
	}
	err = s.updateKeepUsers(func(tx *Tx) error {
		b := tx.b.Bucket(bucketAudit)
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("model: prune audit: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(old), nil
}

// AuditFilter selects audit events.
type AuditFilter struct {
	UserID int       // actor or target; 0 means all
	Action string    // exact action; "" means all
	Since  time.Time // events at or after; zero means all
	Until  time.Time // events before; zero means all
	Limit  int       // default 50
	Offset int
}

func (f AuditFilter) match(e *AuditEvent) bool {
	return (f.UserID == 0 || e.ActorID == f.UserID || e.TargetID == f.UserID) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || e.Time.Before(f.Until))
}

// AuditEvents returns events of both streams newest first (by id), and
// how many match in all.
func (s *Store) AuditEvents(f AuditFilter) (out []AuditEvent, total int, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	err = s.View(func(tx *Tx) error {
		var cs [2]*bolt.Cursor
		var ks, vs [2][]byte
		for i, name := range [][]byte{bucketAudit, bucketAuditOutside} {
			if b := tx.b.Bucket(name); b != nil {
				cs[i] = b.Cursor()
				ks[i], vs[i] = cs[i].Last()
			}
		}
		for ks[0] != nil || ks[1] != nil {
			// Take the stream whose next event has the larger id.
			i := 0
			if ks[0] == nil || (ks[1] != nil && bytes.Compare(ks[1], ks[0]) > 0) {
				i = 1
			}
			k, v := ks[i], vs[i]
			ks[i], vs[i] = cs[i].Prev()
			var e AuditEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("model: audit event %x: %w", k, err)
			}
			if !f.match(&e) {
				continue
			}
			if total >= f.Offset && len(out) < f.Limit {
				out = append(out, e)
			}
			total++
		}
		return nil
	})
	return out, total, err
}

// AuditBuffer collects events that record no change (failed logins,
// refused tokens) and writes them in batches at least once per interval,
// so that an attacker cannot cost a disk sync per request, and a crash
// loses at most the last interval of them. Outside failures (see
// AuditEvent) are aggregated as they arrive. Its memory is bounded: once
// max events are pending, Add writes them before it returns rather than
// drop one.
type AuditBuffer struct {
	s        *Store
	mu       sync.Mutex
	pending  []AuditEvent
	agg      map[aggKey]int // index in pending of the aggregate of a key
	max      int
	interval time.Duration
	// flushMu orders Flush calls (from Run, from a full Add, from a reader),
	// so that ids follow time; rows is under it.
	flushMu sync.Mutex
	rows    map[aggKey]uint64 // stored aggregates of the recent windows
	done    chan struct{}
}

// aggKey names an aggregate: one address, action and window.
type aggKey struct {
	ip, action string
	window     int64 // start, in Unix seconds
}

func keyOf(e *AuditEvent) aggKey {
	return aggKey{ip: e.IP, action: e.Action, window: e.Time.Truncate(AuditWindow).Unix()}
}

// NewAuditBuffer returns a buffer for s; call Run to start writing.
func NewAuditBuffer(s *Store, interval time.Duration) *AuditBuffer {
	return &AuditBuffer{s: s, max: 10000, interval: interval, agg: map[aggKey]int{},
		rows: map[aggKey]uint64{}, done: make(chan struct{})}
}

// Add queues an event; its time is taken now. An outside failure adds one
// to the count of its address, action and window. When the buffer is
// full, Add writes it first: bounded memory, and no event dropped.
func (b *AuditBuffer) Add(by Actor, action string, targetID int, target, detail string) {
	e := newAuditEvent(b.s.now(), by, action, targetID, target, detail)
	outside := e.Outside()
	for {
		b.mu.Lock()
		if outside {
			k := keyOf(&e)
			if i, ok := b.agg[k]; ok {
				b.pending[i].Count++
				b.mu.Unlock()
				return
			}
			if len(b.pending) < b.max {
				e.Count = 1
				b.agg[k] = len(b.pending)
				b.pending = append(b.pending, e)
				b.mu.Unlock()
				return
			}
		} else if len(b.pending) < b.max {
			b.pending = append(b.pending, e)
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		if err := b.Flush(); err != nil {
			slog.Error("audit flush failed; event dropped", "err", err, "action", e.Action)
			return
		}
	}
}

// Flush writes the pending events in one transaction.
func (b *AuditBuffer) Flush() error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	clear(b.agg)
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	// Forget the stored aggregates of windows that are over.
	current := b.s.now().Truncate(AuditWindow).Unix()
	for k := range b.rows {
		if k.window < current-int64(AuditWindow/time.Second) {
			delete(b.rows, k)
		}
	}
	stored := map[aggKey]uint64{}
	err := b.s.updateKeepUsers(func(tx *Tx) error {
		for i := range batch {
			e := &batch[i]
			if e.Count == 0 {
				if err := tx.saveAudit(e); err != nil {
					return err
				}
				continue
			}
			k := keyOf(e)
			id, ok := stored[k]
			if !ok {
				id = b.rows[k]
			}
			id, err := tx.saveOutside(e, id)
			if err != nil {
				return err
			}
			stored[k] = id
		}
		return nil
	})
	if err != nil {
		return err
	}
	maps.Copy(b.rows, stored)
	return nil
}

// Run writes pending events every interval until ctx ends, then flushes
// once more. It also drops security events past their retention, at the
// start and hourly.
func (b *AuditBuffer) Run(ctx context.Context) {
	runBatches(ctx, b.done, b.interval, "audit events", b.Flush, b.prune)
}

func (b *AuditBuffer) prune() {
	if n, err := b.s.PruneAudit(); err != nil {
		slog.Error("audit retention failed", "err", err)
	} else if n > 0 {
		slog.Info("audit events past their retention dropped", "dropped", n)
	}
}

// Wait returns after Run has returned.
func (b *AuditBuffer) Wait() { <-b.done }
