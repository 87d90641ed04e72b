package model

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"
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
	e := AuditEvent{Time: tx.s.now().UTC(), Action: action, ActorID: by.UserID, Actor: by.Name,
		TargetID: targetID, Target: target, IP: by.IP, Detail: detail}
	return tx.saveAudit(&e)
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
	e := AuditEvent{Time: b.s.now().UTC(), Action: action, ActorID: by.UserID, Actor: by.Name,
		TargetID: targetID, Target: target, IP: by.IP, Detail: detail}
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
