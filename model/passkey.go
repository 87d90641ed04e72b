package model

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Passkey audit events.
const (
	EventPasskeyRegistered = "passkey.registered"
	EventPasskeyUsed       = "passkey.used"
	EventPasskeyDeleted    = "passkey.deleted"
	// EventPasskeyCloneRefused records a login refused because the
	// authenticator's signature counter went backwards (WebAuthn §6.1.1:
	// a sign of a cloned authenticator).
	EventPasskeyCloneRefused = "passkey.clone_refused"
)

// PasskeyNameMaxLen bounds a passkey's name, in characters.
const PasskeyNameMaxLen = 64

// ErrPasskeyCloned means a passkey login was refused because the signature
// counter did not increase (WebAuthn §7.2 step 22): the credential's
// private key may exist twice.
var ErrPasskeyCloned = errors.New("passkey signature counter went backwards: possible cloned authenticator")

// Passkey is a WebAuthn credential of a user: the credential record of
// WebAuthn §4 (id, public key, sign count, transports, flags) plus the name
// the user chose and when it was made and last used.
//
// The Storm ID is the credential id in base64url, so that a login finds
// the credential in one read by key; ID is the short public id shown in
// the UI and used in API paths.
type Passkey struct {
	// Key is the credential id, base64url without padding (the Storm ID).
	Key string `storm:"id"`
	// ID is the public id used in API paths.
	ID     string `storm:"index"`
	UserID int    `storm:"index"`
	// RPID is the WebAuthn Relying Party ID the credential is bound to
	// (WebAuthn §5.4.2): it only works while the panel runs under it.
	RPID string
	Name string

	// CredentialID is the raw credential id.
	CredentialID []byte
	// PublicKey is the COSE-encoded credential public key.
	PublicKey []byte
	// AAGUID identifies the authenticator model (all zero when it says nothing).
	AAGUID []byte
	// SignCount is the last signature counter seen (WebAuthn §6.1.1).
	SignCount uint32
	// Transports are the hints the browser gave at registration ("internal", "usb", …).
	Transports []string
	// Flags is the raw authenticator data flags byte of the last ceremony
	// (UP, UV, BE, BS; WebAuthn §6.1); the booleans below repeat what
	// matters for reading the record.
	Flags byte
	// UserVerified is the credential record's uvInitialized.
	UserVerified bool
	// BackupEligible (BE) never changes for a credential: a login whose BE
	// differs is refused.
	BackupEligible bool
	// BackupState (BS) may change: a synced passkey was backed up.
	BackupState bool
	// AttestationType and AttestationFormat are what the authenticator
	// conveyed at registration ("none", "self", …; "packed", "none", …).
	AttestationType   string
	AttestationFormat string
	// Attachment is "platform" or "cross-platform" when the browser said.
	Attachment string

	CreatedAt time.Time
	// LastUsedAt is nil until the passkey is first used for a login.
	LastUsedAt *time.Time
}

// passkeyOwner holds a user's WebAuthn user handle (WebAuthn §5.4.3): one
// random value per user, shared by all of the user's passkeys, never
// derived from the user id (ids of deleted users may come back).
type passkeyOwner struct {
	UserID int `storm:"id"`
	Handle []byte
}

// PasskeyKey returns the storage key of a credential id.
func PasskeyKey(credentialID []byte) string {
	return base64.RawURLEncoding.EncodeToString(credentialID)
}

// NewPasskeyHandle returns a new random user handle: 32 bytes, within the
// 64-byte limit of WebAuthn §5.4.3 and free of personal data.
func NewPasskeyHandle() []byte { return randomBytes(32) }

// ValidatePasskeyName checks a passkey's name: 1–64 characters that
// ValidateText accepts. Leading and trailing spaces are the caller's to trim.
func ValidatePasskeyName(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("enter a name for the passkey, e.g. laptop or phone")
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > PasskeyNameMaxLen {
		return fmt.Errorf("the name must be at most %d characters long", PasskeyNameMaxLen)
	}
	return ValidateText("the name", s)
}

// PasskeyHandle returns the user handle of the user with userID, or
// ErrNotFound when the user has none yet (see WebAuthnHandle).
func (s *Store) PasskeyHandle(userID int) (handle []byte, err error) {
	err = s.View(func(tx *Tx) error {
		var o passkeyOwner
		if err := tx.n.One("UserID", userID, &o); err != nil {
			return mapErr(err)
		}
		handle = bytes.Clone(o.Handle)
		return nil
	})
	return handle, err
}

// WebAuthnHandle returns the user handle of the user with userID,
// creating and saving it in the same transaction when the user has none
// yet (ErrNotFound for an unknown user). A registration asks for it when
// it starts: two registrations begun before the first passkey (two tabs,
// a dialog opened twice) then share the one handle, and both can finish.
// Were the handle made per ceremony and stored with the first passkey, the
// second would have been registered on the device under a handle the
// panel never accepts. The handle stays until the user is deleted, also
// when all the user's passkeys are.
func (s *Store) WebAuthnHandle(userID int) (handle []byte, err error) {
	// Most users have their handle already: a read costs no disk sync.
	if handle, err = s.PasskeyHandle(userID); !errors.Is(err, ErrNotFound) {
		return handle, err
	}
	// The write transaction looks again: another start may have made it
	// since, and bbolt runs one write transaction at a time.
	err = s.Update(func(tx *Tx) error {
		if _, err := tx.User(userID); err != nil {
			return err
		}
		var o passkeyOwner
		switch err := tx.n.One("UserID", userID, &o); {
		case err == nil:
		case errors.Is(mapErr(err), ErrNotFound):
			o = passkeyOwner{UserID: userID, Handle: NewPasskeyHandle()}
			if err := tx.n.Save(&o); err != nil {
				return fmt.Errorf("model: save passkey owner %d: %w", userID, err)
			}
		default:
			return fmt.Errorf("model: passkey owner %d: %w", userID, err)
		}
		handle = bytes.Clone(o.Handle)
		return nil
	})
	return handle, err
}

// AddPasskey stores a verified new credential (the outcome of WebAuthn
// §7.1) for the user with userID, with handle as the user handle it was
// registered under. In one transaction it checks that the credential id
// is new (§7.1 step 25: refuse a credential registered for any user),
// that handle is the user's (WebAuthnHandle made it when the registration
// started; a user without one, such as one restored from an older
// database, gets handle as theirs),
// keeps User.Passkeys in step and records the audit event. p.ID, UserID,
// Key and CreatedAt are set here.
func (s *Store) AddPasskey(userID int, handle []byte, p Passkey, by Actor) (Passkey, error) {
	p.Name = strings.TrimSpace(p.Name)
	if err := ValidatePasskeyName(p.Name); err != nil {
		return Passkey{}, FieldError("name", err.Error())
	}
	if len(p.CredentialID) == 0 || len(p.PublicKey) == 0 || len(handle) == 0 {
		return Passkey{}, errors.New("model: add passkey: credential id, public key and user handle are required")
	}
	err := s.Update(func(tx *Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		var o passkeyOwner
		switch err := tx.n.One("UserID", userID, &o); {
		case err == nil:
			if !bytes.Equal(o.Handle, handle) {
				return fmt.Errorf("model: add passkey for user %d: the registration used another user handle: %w", userID, ErrConflict)
			}
		case errors.Is(mapErr(err), ErrNotFound):
			if err := tx.n.Save(&passkeyOwner{UserID: userID, Handle: handle}); err != nil {
				return fmt.Errorf("model: save passkey owner: %w", err)
			}
		default:
			return err
		}
		p.Key = PasskeyKey(p.CredentialID)
		var existing Passkey
		if err := tx.n.One("Key", p.Key, &existing); err == nil {
			return fmt.Errorf("model: add passkey: %w", errors.Join(ErrConflict, FieldError("name", "this passkey is already registered")))
		} else if !errors.Is(mapErr(err), ErrNotFound) {
			return err
		}
		for i := 0; ; i++ {
			p.ID = RandomToken(9)
			if _, err := tx.passkeyByID(p.ID); errors.Is(err, ErrNotFound) {
				break
			} else if err != nil {
				return err
			} else if i > 5 {
				return errors.New("model: could not find a free passkey id")
			}
		}
		p.UserID = u.ID
		p.CreatedAt = s.now().UTC().Truncate(time.Second)
		p.LastUsedAt = nil
		if err := tx.n.Save(&p); err != nil {
			return fmt.Errorf("model: save passkey: %w", err)
		}
		if err := tx.syncPasskeyCount(u.ID); err != nil {
			return err
		}
		return tx.Audit(by, EventPasskeyRegistered, u.ID, u.Username, fmt.Sprintf("passkey %s %q (rp %s)", p.ID, p.Name, p.RPID))
	})
	if err != nil {
		return Passkey{}, err
	}
	return p, nil
}

// PasskeyByCredentialID returns the passkey with the raw credential id and
// its user (one read by key): the sign-in of a passkey login, so a user
// that SignInAllowed refuses is ErrSignInRefused (and ErrNotFound).
// Passkeys of deleted users are ErrNotFound.
func (s *Store) PasskeyByCredentialID(credentialID []byte) (p Passkey, u User, handle []byte, err error) {
	if len(credentialID) == 0 || len(credentialID) > 1023 { // WebAuthn §5.8.3: at most 1023 bytes
		return Passkey{}, User{}, nil, ErrNotFound
	}
	err = s.View(func(tx *Tx) error {
		if err := tx.n.One("Key", PasskeyKey(credentialID), &p); err != nil {
			return mapErr(err)
		}
		var o passkeyOwner
		if err := tx.n.One("UserID", p.UserID, &o); err != nil {
			return mapErr(err)
		}
		handle = bytes.Clone(o.Handle)
		if u, err = tx.User(p.UserID); err != nil {
			return err
		}
		return refuseSignIn(u, ErrNotFound)
	})
	if err != nil {
		return Passkey{}, User{}, nil, fmt.Errorf("model: passkey: %w", err)
	}
	return p, u, handle, nil
}

// PasskeyUse is what a verified login (WebAuthn §7.2) tells about the
// credential: the authenticator's new signature counter and flags.
type PasskeyUse struct {
	SignCount      uint32
	Flags          byte
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
}

// RecordPasskeyUse stores what a verified login learned about the passkey
// with the raw credential id: last use, sign count and flags, with the
// audit event, in one transaction. The counter rule of WebAuthn §7.2 step
// 22 is checked here, inside the transaction, so that two logins racing
// with the same counter cannot both pass: when either counter is non-zero,
// the new one must be greater than the stored one. Otherwise nothing is
// changed, the refusal is audited, and the error is ErrPasskeyCloned.
func (s *Store) RecordPasskeyUse(credentialID []byte, use PasskeyUse, by Actor) (Passkey, error) {
	var p Passkey
	cloned := false
	err := s.Update(func(tx *Tx) error {
		if err := tx.n.One("Key", PasskeyKey(credentialID), &p); err != nil {
			return mapErr(err)
		}
		u, err := tx.User(p.UserID)
		if err != nil {
			return err
		}
		if (use.SignCount != 0 || p.SignCount != 0) && use.SignCount <= p.SignCount {
			cloned = true
			return tx.Audit(by, EventPasskeyCloneRefused, u.ID, u.Username,
				fmt.Sprintf("passkey %s %q: signature counter %d, stored %d", p.ID, p.Name, use.SignCount, p.SignCount))
		}
		if use.BackupEligible != p.BackupEligible {
			// The library refuses this already (WebAuthn §6.1.3); never
			// store a changed BE flag.
			return fmt.Errorf("model: passkey %s: backup eligibility changed", p.ID)
		}
		now := s.now().UTC().Truncate(time.Second)
		p.SignCount = use.SignCount
		p.Flags = use.Flags
		p.UserVerified = p.UserVerified || use.UserVerified
		p.BackupState = use.BackupState
		p.LastUsedAt = &now
		if err := tx.n.Save(&p); err != nil {
			return fmt.Errorf("model: save passkey: %w", err)
		}
		return tx.Audit(by, EventPasskeyUsed, u.ID, u.Username, fmt.Sprintf("passkey %s %q", p.ID, p.Name))
	})
	if err != nil {
		return Passkey{}, fmt.Errorf("model: record passkey use: %w", err)
	}
	if cloned {
		return Passkey{}, fmt.Errorf("model: passkey %s: %w", p.ID, ErrPasskeyCloned)
	}
	return p, nil
}

// Passkeys returns the passkeys of the user with userID, oldest first.
func (s *Store) Passkeys(userID int) (out []Passkey, err error) {
	err = s.View(func(tx *Tx) error {
		if _, err := tx.User(userID); err != nil {
			return err
		}
		out, err = tx.passkeysOf(userID)
		return err
	})
	return out, err
}

func (tx *Tx) passkeysOf(userID int) ([]Passkey, error) {
	var list []Passkey
	if err := tx.n.Find("UserID", userID, &list); err != nil && !errors.Is(mapErr(err), ErrNotFound) {
		return nil, fmt.Errorf("model: passkeys of user %d: %w", userID, err)
	}
	out := make([]Passkey, 0, len(list))
	for _, p := range list {
		if p.UserID == userID {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// passkeyByID finds a passkey by its public id in any user.
func (tx *Tx) passkeyByID(id string) (Passkey, error) {
	var list []Passkey
	if id == "" || len(id) > 64 {
		return Passkey{}, ErrNotFound
	}
	if err := tx.n.Find("ID", id, &list); err != nil {
		return Passkey{}, mapErr(err)
	}
	// Storm's list index matches by prefix: keep exact matches.
	for _, p := range list {
		if p.ID == id {
			return p, nil
		}
	}
	return Passkey{}, ErrNotFound
}

// syncPasskeyCount sets User.Passkeys to the number of stored passkeys.
// UpdateField, because Storm's Update would skip a zero count.
func (tx *Tx) syncPasskeyCount(userID int) error {
	list, err := tx.passkeysOf(userID)
	if err != nil {
		return err
	}
	if err := tx.n.UpdateField(&User{ID: userID}, "Passkeys", len(list)); err != nil {
		return fmt.Errorf("model: passkey count of user %d: %w", userID, mapErr(err))
	}
	return nil
}

// DeletePasskey deletes the passkey pid of the user with userID; unknown
// passkeys are ErrNotFound. The count and the audit event change in the
// same transaction.
func (s *Store) DeletePasskey(userID int, pid string, by Actor) error {
	return s.Update(func(tx *Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		p, err := tx.passkeyByID(pid)
		if err == nil && p.UserID != userID {
			err = ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("model: passkey %q of user %d: %w", pid, userID, err)
		}
		if err := tx.n.DeleteStruct(&p); err != nil {
			return fmt.Errorf("model: delete passkey %s: %w", pid, err)
		}
		if err := tx.syncPasskeyCount(userID); err != nil {
			return err
		}
		return tx.Audit(by, EventPasskeyDeleted, u.ID, u.Username, fmt.Sprintf("passkey %s %q", p.ID, p.Name))
	})
}

// ClearPasskeys deletes every passkey of the user with userID (lock-out
// recovery, `gatehouse user passkeys-clear`) and returns how many there
// were; each deletion is audited.
func (s *Store) ClearPasskeys(userID int, by Actor) (int, error) {
	n := 0
	err := s.Update(func(tx *Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		list, err := tx.passkeysOf(userID)
		if err != nil {
			return err
		}
		for i := range list {
			if err := tx.n.DeleteStruct(&list[i]); err != nil {
				return fmt.Errorf("model: delete passkey %s: %w", list[i].ID, err)
			}
			if err := tx.Audit(by, EventPasskeyDeleted, u.ID, u.Username, fmt.Sprintf("passkey %s %q", list[i].ID, list[i].Name)); err != nil {
				return err
			}
		}
		n = len(list)
		return tx.syncPasskeyCount(userID)
	})
	return n, err
}

// deletePasskeysOf removes a deleted user's passkeys and user handle: part
// of DeleteUser's cascade, inside its transaction.
func (tx *Tx) deletePasskeysOf(userID int) error {
	list, err := tx.passkeysOf(userID)
	if err != nil {
		return err
	}
	for i := range list {
		if err := tx.n.DeleteStruct(&list[i]); err != nil {
			return fmt.Errorf("model: delete passkey %s: %w", list[i].ID, err)
		}
	}
	err = tx.n.DeleteStruct(&passkeyOwner{UserID: userID})
	if err != nil && !errors.Is(mapErr(err), ErrNotFound) {
		return fmt.Errorf("model: delete passkey owner %d: %w", userID, err)
	}
	return nil
}
