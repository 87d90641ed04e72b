package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Roles of a user: an admin manages every user, a member only their own
// account.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// ValidateRole checks that role is RoleAdmin or RoleMember.
func ValidateRole(role string) error {
	if role != RoleAdmin && role != RoleMember {
		return errors.New("role must be admin or member")
	}
	return nil
}

// User is a panel user.
type User struct {
	ID           int `storm:"id,increment"`
	Username     string
	UsernameKey  string `storm:"index"` // UsernameKey(Username), for uniqueness ignoring case
	Email        string
	PasswordHash string
	CreatedAt    time.Time
	// PasswordChangedAt is when the password was last set.
	PasswordChangedAt time.Time
	// TwoFactor is true once two-factor authentication is confirmed. It
	// is stored under its first name: Storm encodes records as JSON by
	// field name, and the databases written before the rename must read
	// the same (TestUserRecordKeepsStoredNames).
	TwoFactor bool `json:"TOTPEnabled"`
	// TOTPSecret is the base32 secret sealed with the data directory's key.
	TOTPSecret []byte
	// TOTPLastStep is the last accepted RFC 6238 time step; codes of this
	// step or earlier are refused (no replay).
	TOTPLastStep int64
	// RecoveryHashes are the SHA-256 hashes of the unused recovery codes.
	RecoveryHashes []string
	// Passkeys counts the registered passkeys (kept in step by the passkey code).
	Passkeys int
	// Role is RoleAdmin or RoleMember. Records stored before roles existed
	// have none and decode as admins (see UnmarshalJSON): their users
	// managed everyone then.
	Role string
	// Disabled refuses every way in (signInRule) while keeping the account.
	Disabled bool
	// LastLoginAt is when the user last signed in; zero until then.
	LastLoginAt time.Time
}

// IsAdmin reports whether u manages every user.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// UnmarshalJSON decodes a stored user (Storm encodes records as JSON); a
// record without a role is an admin, as every user was before roles.
func (u *User) UnmarshalJSON(b []byte) error {
	type plain User
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Role == "" {
		p.Role = RoleAdmin
	}
	*u = User(p)
	return nil
}

// withoutSecrets returns u without the password hash, the sealed TOTP
// secret and the recovery code hashes: a request that an access token
// authenticates (and the token lookup cache) never needs them.
func (u User) withoutSecrets() User {
	u.PasswordHash, u.TOTPSecret, u.RecoveryHashes = "", nil, nil
	return u
}

// SignInAllowed is THE check whether u may sign in: a rule such as a
// "disabled" flag goes into signInRule, below, and then holds everywhere.
// Handlers do not call it: each of the five entry points in this package
// loads the user and calls it, so no way in can skip it:
//
//   - Store.Authenticate: password login (and the password re-entered
//     for sensitive changes)
//   - Store.SessionByToken: every request with a session cookie
//   - Store.TokenByValue: every API request with an access token
//   - Store.PasskeyByCredentialID: passkey login
//   - Store.UserForSignIn: the second (2FA) step of a password login
//
// Each refuses with an error that is ErrSignInRefused and also that entry
// point's usual failure (ErrInvalidCredentials or ErrNotFound), so a
// caller that only knows the usual failure refuses the user too.
func (u User) SignInAllowed() error {
	if why := signInRule(u); why != nil {
		return fmt.Errorf("model: user %d (%s): %w: %w", u.ID, u.Username, ErrSignInRefused, why)
	}
	return nil
}

// errDisabled is signInRule's reason for a disabled account.
var errDisabled = errors.New("the account is disabled")

// signInRule returns why u may not sign in, or nil.
//
// It is a variable only as the seam for tests (TestSignInRefusedEverywhere
// swaps it to refuse a chosen user); nothing else assigns it.
var signInRule = func(u User) error {
	if u.Disabled {
		return errDisabled
	}
	return nil
}

// refuseSignIn returns nil when u may sign in, else SignInAllowed's
// refusal wrapped so that it is also usual, the entry point's failure for
// an unknown user or a wrong secret.
func refuseSignIn(u User, usual error) error {
	if err := u.SignInAllowed(); err != nil {
		return fmt.Errorf("%w (%w)", err, usual)
	}
	return nil
}

// Actor is who makes a change, for the audit log: a user, or the CLI, and
// how it acted (Via).
type Actor struct {
	UserID int
	Name   string
	IP     string
	// Via says how the actor acted: ViaSession, ViaToken(id), ViaCLI or
	// ViaPasskey; "" for attempts by no one known (a failed login).
	Via string
	// TokenCreator names who created the token of a ViaToken actor (a
	// username, or "cli"): an admin may create tokens for another user,
	// and the audit names both.
	TokenCreator string
}

// How an actor acted, for Actor.Via.
const (
	ViaSession = "session"
	ViaCLI     = "cli"
	ViaPasskey = "passkey"
)

// ViaToken is the Via of an action made with the access token id tid.
func ViaToken(tid string) string { return "token:" + tid }

// CLIActor is the actor of changes made with the gatehouse command.
var CLIActor = Actor{Name: "cli", Via: ViaCLI}

// ActorFor returns the actor for user u acting from ip.
func ActorFor(u User, ip string) Actor { return Actor{UserID: u.ID, Name: u.Username, IP: ip} }

// NewUser is the input to CreateUser.
type NewUser struct {
	Username string
	Password string
	Email    string
	// Role is RoleAdmin or RoleMember; empty means RoleMember, except for
	// the first user, who is always an admin.
	Role string
}

// Validate checks every field and returns a ValidationError naming each
// invalid one.
func (in NewUser) Validate() error {
	v := &ValidationError{}
	v.AddErr("username", ValidateUsername(in.Username))
	v.AddErr("password", ValidatePassword(in.Password))
	v.AddErr("email", ValidateEmail(in.Email))
	if in.Role != "" {
		v.AddErr("role", ValidateRole(in.Role))
	}
	return v.Err()
}

// UserPatch changes some fields of a user; nil fields keep their value.
type UserPatch struct {
	Username *string
	Email    *string
	// Role and Disabled may not leave the panel without an enabled admin
	// (ErrLastAdmin); disabling also ends the user's sessions.
	Role     *string
	Disabled *bool
}

// Validate checks the fields that are set.
func (p UserPatch) Validate() error {
	v := &ValidationError{}
	if p.Username != nil {
		v.AddErr("username", ValidateUsername(*p.Username))
	}
	if p.Email != nil {
		v.AddErr("email", ValidateEmail(*p.Email))
	}
	if p.Role != nil {
		v.AddErr("role", ValidateRole(*p.Role))
	}
	return v.Err()
}

// UsernameKey is the one way usernames are compared: ASCII letters
// lower-cased, every other byte kept as is, so "Kate" and "KATE" are kate.
// Unicode case folding (strings.ToLower, strings.EqualFold) is avoided on
// purpose: it maps the Kelvin sign U+212A to 'k', so "\u212Aate" would sign
// in as kate, share her throttle count and her device cookie. Valid
// usernames are ASCII, so for them this is what strings.ToLower gave and
// the stored keys stay valid.
func UsernameKey(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}

func errUsernameTaken() error { return FieldError("username", "this username is already taken") }

// CreateUser validates in, hashes the password (outside the write
// transaction, so the lock is not held for the hash), and saves the user
// with its audit event in one transaction.
func (s *Store) CreateUser(ctx context.Context, in NewUser, by Actor) (User, error) {
	if err := in.Validate(); err != nil {
		return User{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return User{}, err
	}
	now := s.now().UTC()
	u := User{Username: in.Username, UsernameKey: UsernameKey(in.Username), Email: in.Email,
		PasswordHash: hash, CreatedAt: now, PasswordChangedAt: now, Role: in.Role}
	if u.Role == "" {
		u.Role = RoleMember
	}
	err = s.Update(func(tx *Tx) error {
		if _, err := tx.UserByName(in.Username); err == nil {
			return fmt.Errorf("model: create user %q: %w", in.Username, errors.Join(ErrConflict, errUsernameTaken()))
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		// The first user is an admin whatever was asked: someone must
		// manage the panel. Counted in this transaction, so two racing
		// first users cannot both be members.
		if n, err := tx.CountUsers(); err != nil {
			return err
		} else if n == 0 {
			u.Role = RoleAdmin
		}
		if err := tx.n.Save(&u); err != nil {
			return fmt.Errorf("model: save user: %w", err)
		}
		return tx.Audit(by, EventUserCreated, u.ID, u.Username, "")
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// User returns the user with id.
func (s *Store) User(id int) (u User, err error) {
	err = s.View(func(tx *Tx) error { u, err = tx.User(id); return err })
	return u, err
}

// UserForSignIn returns the user with id for a sign-in that goes on after
// its first step (the second, 2FA step of a password login): the user may
// have changed since the password was checked, so SignInAllowed is asked
// again. A refused user is ErrSignInRefused (and ErrNotFound).
func (s *Store) UserForSignIn(id int) (User, error) {
	u, err := s.User(id)
	if err != nil {
		return User{}, err
	}
	if err := refuseSignIn(u, ErrNotFound); err != nil {
		return User{}, err
	}
	return u, nil
}

// CredentialStamp names the user's current credentials: the password hash
// (new salt at every change) and the second factor. A sign-in that goes on
// after its first step keeps the stamp of that step and is refused when
// the stamp changed meanwhile, so a password reset or a new second factor
// also ends half-finished logins.
func (u User) CredentialStamp() string {
	twoFactor := "off"
	if u.TwoFactor {
		twoFactor = "on"
	}
	return HashToken(u.PasswordHash + "|" + twoFactor + "|" + string(u.TOTPSecret))
}

// UserByName returns the user named name, ignoring ASCII case (see
// UsernameKey).
func (s *Store) UserByName(name string) (u User, err error) {
	err = s.View(func(tx *Tx) error { u, err = tx.UserByName(name); return err })
	return u, err
}

// Users returns all users ordered by id.
func (s *Store) Users() (us []User, err error) {
	err = s.View(func(tx *Tx) error { us, err = tx.Users(); return err })
	return us, err
}

// User returns the user with id.
func (tx *Tx) User(id int) (User, error) {
	var u User
	if err := tx.n.One("ID", id, &u); err != nil {
		return User{}, fmt.Errorf("model: user %d: %w", id, mapErr(err))
	}
	return u, nil
}

// UserByName returns the user named name, ignoring ASCII case (see
// UsernameKey).
func (tx *Tx) UserByName(name string) (User, error) {
	key := UsernameKey(name)
	var list []User
	// Storm's list index panics on an empty value and matches by prefix
	// (value + "__"), so "bob" would also find "bob__x": keep exact matches.
	if key != "" {
		if err := tx.n.Find("UsernameKey", key, &list); err != nil && !errors.Is(mapErr(err), ErrNotFound) {
			return User{}, fmt.Errorf("model: user %q: %w", name, err)
		}
	}
	for _, u := range list {
		if u.UsernameKey == key {
			return u, nil
		}
	}
	return User{}, fmt.Errorf("model: user %q: %w", name, ErrNotFound)
}

// Users returns all users ordered by id.
func (tx *Tx) Users() ([]User, error) {
	var us []User
	if err := tx.n.All(&us); err != nil {
		return nil, fmt.Errorf("model: list users: %w", err)
	}
	return us, nil
}

// CountUsers returns the number of users.
func (tx *Tx) CountUsers() (int, error) {
	n, err := tx.n.Count(&User{})
	if err != nil {
		return 0, fmt.Errorf("model: count users: %w", err)
	}
	return n, nil
}

// keepAnAdmin returns ErrLastAdmin when no enabled admin is left after a
// change to user id. A write that would break the rule returns the error,
// so its transaction rolls back and nothing changes.
func (tx *Tx) keepAnAdmin(id int) error {
	us, err := tx.Users()
	if err != nil {
		return err
	}
	for _, u := range us {
		if u.IsAdmin() && !u.Disabled {
			return nil
		}
	}
	return fmt.Errorf("model: change user %d: %w", id, ErrLastAdmin)
}

// UpdateUser applies p to the user with id and records one audit event per
// changed field, all in one transaction.
func (s *Store) UpdateUser(id int, p UserPatch, by Actor) (User, error) {
	if err := p.Validate(); err != nil {
		return User{}, err
	}
	var u User
	err := s.Update(func(tx *Tx) error {
		var err error
		if u, err = tx.User(id); err != nil {
			return err
		}
		if p.Username != nil && *p.Username != u.Username {
			if other, err := tx.UserByName(*p.Username); err == nil && other.ID != id {
				return fmt.Errorf("model: rename user %d: %w", id, errors.Join(ErrConflict, errUsernameTaken()))
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err := tx.Audit(by, EventUserRenamed, u.ID, *p.Username, u.Username+" → "+*p.Username); err != nil {
				return err
			}
			u.Username, u.UsernameKey = *p.Username, UsernameKey(*p.Username)
		}
		if p.Email != nil && *p.Email != u.Email {
			if err := tx.Audit(by, EventEmailChanged, u.ID, u.Username, u.Email+" → "+*p.Email); err != nil {
				return err
			}
			u.Email = *p.Email
		}
		if p.Role != nil && *p.Role != u.Role {
			if err := tx.Audit(by, EventRoleChanged, u.ID, u.Username, u.Role+" → "+*p.Role); err != nil {
				return err
			}
			u.Role = *p.Role
		}
		if p.Disabled != nil && *p.Disabled != u.Disabled {
			u.Disabled = *p.Disabled
			event := EventUserEnabled
			if u.Disabled {
				event = EventUserDisabled
				if err := tx.deleteSessionsOf(id, ""); err != nil {
					return err
				}
			}
			if err := tx.Audit(by, event, u.ID, u.Username, ""); err != nil {
				return err
			}
		}
		if err := tx.n.Save(&u); err != nil {
			return fmt.Errorf("model: save user %d: %w", id, err)
		}
		// Checked after the change, inside the write transaction: bbolt
		// runs one at a time, so racing demotions, disables and deletes
		// can never together remove the last enabled admin.
		return tx.keepAnAdmin(id)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// SetPassword validates and sets the password of the user with id and ends
// all of that user's sessions except keepSession (the one that made the
// change; empty ends them all). Setting the first admin's password removes
// the initial-admin-password file.
func (s *Store) SetPassword(ctx context.Context, id int, password string, keepSession string, by Actor) error {
	if err := ValidatePassword(password); err != nil {
		return FieldError("password", err.Error())
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	var initialAdmin int
	err = s.Update(func(tx *Tx) error {
		u, err := tx.User(id)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		u.PasswordChangedAt = s.now().UTC()
		if err := tx.n.Save(&u); err != nil {
			return fmt.Errorf("model: save user %d: %w", id, err)
		}
		if err := tx.deleteSessionsOf(id, keepSession); err != nil {
			return err
		}
		if err := tx.meta("initial_admin", &initialAdmin); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return tx.Audit(by, EventPasswordChanged, u.ID, u.Username, "")
	})
	if err != nil {
		return err
	}
	if initialAdmin == id {
		if err := os.Remove(filepath.Join(s.dir, InitialPasswordFile)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("model: remove %s: %w", InitialPasswordFile, err)
		}
	}
	return nil
}

// DeleteUser deletes the user with id and everything that belongs to it:
// sessions, access tokens, passkeys and the passkey user handle (the TOTP
// secret and recovery codes are fields of the user). The audit log keeps
// its events. The count check and the deletes run in one write
// transaction, and bbolt runs one write transaction at a time, so two
// racing deletes can never remove the last two users.
func (s *Store) DeleteUser(id int, by Actor) error {
	return s.Update(func(tx *Tx) error {
		u, err := tx.User(id)
		if err != nil {
			return err
		}
		n, err := tx.CountUsers()
		if err != nil {
			return err
		}
		if n <= 1 {
			return fmt.Errorf("model: delete user %d: %w", id, ErrLastUser)
		}
		if err := tx.deleteSessionsOf(id, ""); err != nil {
			return err
		}
		if err := tx.deleteTokensOf(id); err != nil {
			return err
		}
		if err := tx.deletePasskeysOf(id); err != nil {
			return err
		}
		if err := tx.n.DeleteStruct(&u); err != nil {
			return fmt.Errorf("model: delete user %d: %w", id, err)
		}
		if err := tx.keepAnAdmin(id); err != nil {
			return err
		}
		return tx.Audit(by, EventUserDeleted, u.ID, u.Username, "")
	})
}

// Authenticate checks username and password: the sign-in of a password
// login. Unknown users cost the same hashing work as known ones. When the
// stored hash uses old parameters it is upgraded. Every failure is
// ErrInvalidCredentials (or ErrBusy); a user that SignInAllowed refuses,
// with the right password, is also ErrSignInRefused.
func (s *Store) Authenticate(ctx context.Context, username, password string) (User, error) {
	u, err := s.UserByName(username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, err
	}
	ok, rehash, verr := s.hasher.Verify(ctx, u.PasswordHash, password)
	if verr != nil {
		return User{}, verr
	}
	if !ok || u.ID == 0 {
		return User{}, ErrInvalidCredentials
	}
	// Asked only once the password is right: a refusal tells nothing to
	// someone who does not know it.
	if err := refuseSignIn(u, ErrInvalidCredentials); err != nil {
		return User{}, err
	}
	if rehash {
		if hash, err := s.hasher.Hash(ctx, password); err == nil {
			_ = s.Update(func(tx *Tx) error {
				cur, err := tx.User(u.ID)
				if err != nil || cur.PasswordHash != u.PasswordHash {
					return err // changed meanwhile: keep the newer hash
				}
				return tx.n.UpdateField(&User{ID: u.ID}, "PasswordHash", hash)
			})
		}
	}
	return u, nil
}

// EnsureAdmin creates the user "admin" when the database has no users. The
// password is adminPassword, or a random one that is written to
// initial-admin-password (mode 0600) in the data directory. It returns the
// generated password ("" when none was generated) and whether a user was
// created.
func (s *Store) EnsureAdmin(ctx context.Context, adminPassword string) (generated string, created bool, err error) {
	var n int
	if err := s.View(func(tx *Tx) error { n, err = tx.CountUsers(); return err }); err != nil {
		return "", false, err
	}
	if n > 0 {
		return "", false, nil
	}
	pw := adminPassword
	if pw == "" {
		pw = RandomPassword()
		generated = pw
	}
	in := NewUser{Username: "admin", Password: pw, Email: "admin@localhost.localdomain"}
	if err := ValidatePassword(pw); err != nil {
		return "", false, fmt.Errorf("GATEHOUSE_ADMIN_PASSWORD: %w", err)
	}
	// The password file is written before the user is committed: a crash
	// in between leaves no user, and the next start makes both anew. The
	// other order could leave an admin whose password nobody knows.
	path := filepath.Join(s.dir, InitialPasswordFile)
	if generated != "" {
		os.Remove(path)
		if err := writeFileSync(path, []byte(pw+"\n"), 0o600); err != nil {
			return "", false, fmt.Errorf("model: write %s: %w", path, err)
		}
	}
	u, err := s.CreateUser(ctx, in, Actor{Name: "system"})
	if err != nil {
		if generated != "" {
			os.Remove(path)
		}
		return "", false, err
	}
	if generated != "" {
		if err := s.Update(func(tx *Tx) error { return tx.setMeta("initial_admin", u.ID) }); err != nil {
			return "", false, err
		}
	}
	return generated, true, nil
}
