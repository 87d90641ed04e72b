package model

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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
)

// DefaultAuditMax is how many audit events are kept; older ones are dropped.
const DefaultAuditMax = 10000

// Bounds of the text an audit event stores, in bytes after escaping (see
// auditText). Names (actor, target) and the address come from outside on
// failures: the name typed at a failed login, for one.
const (
	AuditNameMaxLen   = 128
	AuditDetailMaxLen = 2048
)

// AuditEvent is one security-relevant event. It never holds a secret.
type AuditEvent struct {
	ID       uint64
	Time     time.Time
	Action   string
	ActorID  int
	Actor    string // username, "cli" or "system"; for failed logins the name tried
	TargetID int
	Target   string
	IP       string
	Detail   string // e.g. "old → new", or a failure's reason class
}

// bucketAudit holds the audit log in a plain bbolt bucket: key the event id
// (8 bytes, big-endian, from the bucket's sequence), value its JSON. Not a
// Storm record: Storm's id index makes every Save scan all ids, and this
// log is written on every change.
var bucketAudit = []byte("gh_audit")

// Audit records an event inside tx, so that it commits together with the
// change it describes, and drops the oldest event past the bound.
func (tx *Tx) Audit(by Actor, action string, targetID int, target, detail string) error {
	e := newAuditEvent(tx.s.now(), by, action, targetID, target, detail)
	return tx.saveAudit(&e)
}

// newAuditEvent is the one place an event's text is taken in, for
// Tx.Audit and AuditBuffer.Add alike: every text field goes through
// auditText, so that no caller can store raw outside input.
func newAuditEvent(now time.Time, by Actor, action string, targetID int, target, detail string) AuditEvent {
	return AuditEvent{Time: now.UTC(), Action: auditText(action, AuditNameMaxLen),
		ActorID: by.UserID, Actor: auditText(by.Name, AuditNameMaxLen),
		TargetID: targetID, Target: auditText(target, AuditNameMaxLen),
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

func (tx *Tx) saveAudit(e *AuditEvent) error {
	b, err := tx.b.CreateBucketIfNotExists(bucketAudit)
	if err != nil {
		return fmt.Errorf("model: audit bucket: %w", err)
	}
	if e.ID, err = b.NextSequence(); err != nil {
		return fmt.Errorf("model: audit id: %w", err)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("model: audit %s: %w", e.Action, err)
	}
	if err := b.Put(auditKey(e.ID), v); err != nil {
		return fmt.Errorf("model: audit %s: %w", e.Action, err)
	}
	// Ids grow by one per event, so exactly one event falls out per insert.
	if e.ID > tx.s.auditMax {
		if err := b.Delete(auditKey(e.ID - tx.s.auditMax)); err != nil {
			return fmt.Errorf("model: drop old audit event: %w", err)
		}
	}
	return nil
}

// AuditFilter selects audit events.
type AuditFilter struct {
	UserID int // actor or target; 0 means all
	Limit  int // default 50
	Offset int
}

// AuditEvents returns events newest first, and how many match in all.
func (s *Store) AuditEvents(f AuditFilter) (out []AuditEvent, total int, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	err = s.View(func(tx *Tx) error {
		b := tx.b.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var e AuditEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("model: audit event %x: %w", k, err)
			}
			if f.UserID != 0 && e.ActorID != f.UserID && e.TargetID != f.UserID {
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
// refused tokens) and writes them in batches at most once per interval, so
// that an attacker cannot cost a disk sync per request. Its memory is
// bounded: past max pending events, new ones are counted and dropped.
type AuditBuffer struct {
	s        *Store
	mu       sync.Mutex
	pending  []AuditEvent
	dropped  int
	max      int
	interval time.Duration
	done     chan struct{}
}

// NewAuditBuffer returns a buffer for s; call Run to start writing.
func NewAuditBuffer(s *Store, interval time.Duration) *AuditBuffer {
	return &AuditBuffer{s: s, max: 10000, interval: interval, done: make(chan struct{})}
}

// Add queues an event; its time is taken now.
func (b *AuditBuffer) Add(by Actor, action string, targetID int, target, detail string) {
	e := newAuditEvent(b.s.now(), by, action, targetID, target, detail)
	b.mu.Lock()
	if len(b.pending) >= b.max {
		b.dropped++
	} else {
		b.pending = append(b.pending, e)
	}
	b.mu.Unlock()
}

// Flush writes the pending events in one transaction.
func (b *AuditBuffer) Flush() error {
	b.mu.Lock()
	batch, dropped := b.pending, b.dropped
	b.pending, b.dropped = nil, 0
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if dropped > 0 {
		slog.Warn("audit buffer overflowed; events dropped", "dropped", dropped)
	}
	return b.s.Update(func(tx *Tx) error {
		for i := range batch {
			if err := tx.saveAudit(&batch[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Run writes pending events every interval until ctx ends, then flushes
// once more.
func (b *AuditBuffer) Run(ctx context.Context) {
	defer close(b.done)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := b.Flush(); err != nil {
				slog.Error("audit flush failed", "err", err)
			}
			return
		case <-t.C:
			if err := b.Flush(); err != nil {
				slog.Error("audit flush failed", "err", err)
			}
		}
	}
}

// Wait returns after Run has returned.
func (b *AuditBuffer) Wait() { <-b.done }
