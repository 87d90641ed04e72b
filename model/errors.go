// Package model owns Gatehouse's domain: users, sessions, audit events, their
// validation rules and invariants, secret handling, and the Storm store.
// Storm and bbolt types never leave this package.
package model

import (
	"errors"
	"sort"
	"strings"
)

// Sentinel errors that callers map to answers (HTTP status codes, CLI exit
// messages). They are wrapped with context; test with errors.Is.
var (
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the change collides with existing data (a taken username).
	ErrConflict = errors.New("conflict")
	// ErrLastUser means the change would leave the panel without users.
	ErrLastUser = errors.New("the last user cannot be deleted")
	// ErrLastAdmin means the change would leave no enabled admin.
	ErrLastAdmin = errors.New("at least one enabled admin must remain")
	// ErrInvalidCredentials is the one answer to a wrong username or password.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrSignInRefused means that User.SignInAllowed refused the user: the
	// account exists, and the secret may even be right, but it may not
	// sign in.
	ErrSignInRefused = errors.New("this user may not sign in")
	// ErrBusy means too many password hashes are queued; try again shortly.
	ErrBusy = errors.New("server busy, try again in a moment")
	// ErrInUse means another process holds the database file lock.
	ErrInUse = errors.New("in use by another gatehouse process")
	// ErrNoDatabase means the data directory has no Gatehouse database.
	ErrNoDatabase = errors.New("no gatehouse database")
	// ErrCorrupt means the database file cannot be read as a Gatehouse database.
	ErrCorrupt = errors.New("database file is damaged or not a gatehouse database")
)

// ValidationError collects one message per invalid field. Field names are
// the form and JSON names (username, password, email, …).
type ValidationError struct {
	Fields map[string]string
}

// Error lists "field: message" pairs in a stable order.
func (v *ValidationError) Error() string { return v.join(true) }

// Messages lists the messages alone, in the same order: each names its
// field already ("email must be …"), for people rather than programs.
func (v *ValidationError) Messages() string { return v.join(false) }

func (v *ValidationError) join(withField bool) string {
	keys := make([]string, 0, len(v.Fields))
	for k := range v.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if withField {
			parts = append(parts, k+": "+v.Fields[k])
		} else {
			parts = append(parts, v.Fields[k])
		}
	}
	return strings.Join(parts, "; ")
}

// Add records msg for field unless the field already has a message.
func (v *ValidationError) Add(field, msg string) {
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	if _, ok := v.Fields[field]; !ok {
		v.Fields[field] = msg
	}
}

// AddErr records err's text for field when err is not nil.
func (v *ValidationError) AddErr(field string, err error) {
	if err != nil {
		v.Add(field, err.Error())
	}
}

// Err returns v as an error, or nil when no field was invalid.
func (v *ValidationError) Err() error {
	if len(v.Fields) == 0 {
		return nil
	}
	return v
}

// FieldError returns a ValidationError for a single field.
func FieldError(field, msg string) error {
	v := &ValidationError{}
	v.Add(field, msg)
	return v
}

// AsValidation returns the ValidationError inside err, if any.
func AsValidation(err error) (*ValidationError, bool) {
	var v *ValidationError
	ok := errors.As(err, &v)
	return v, ok
}
