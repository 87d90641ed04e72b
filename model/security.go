package model

import (
	"fmt"
	"time"
)

// The thresholds of the security advice: the User tab marks old passwords
// and unused accounts with them, and SecuritySummary lists what crosses
// them. Defined once so the badges and the summary always agree.
const (
	// PasswordMaxAge is the age after which a password is called old.
	PasswordMaxAge = 180 * 24 * time.Hour
	// UnusedAfter is how long without a sign-in makes an account unused.
	UnusedAfter = 90 * 24 * time.Hour
	// TokenFarExpiry is how far in the future an expiry time is called
	// too far: a leaked long-lived token stays useful for that long.
	TokenFarExpiry = 365 * 24 * time.Hour
)

// PasswordAge is how long ago u's password was set (records without the
// time count from the account's creation).
func (u User) PasswordAge(now time.Time) time.Duration {
	at := u.PasswordChangedAt
	if at.IsZero() {
		at = u.CreatedAt
	}
	return now.Sub(at)
}

// PasswordOld reports whether u's password is older than PasswordMaxAge.
func (u User) PasswordOld(now time.Time) bool { return u.PasswordAge(now) > PasswordMaxAge }

// Unused reports whether u has not signed in for UnusedAfter: an account
// that never signed in counts from its creation, so a fresh account is not
// unused yet.
func (u User) Unused(now time.Time) bool {
	at := u.LastLoginAt
	if at.IsZero() {
		at = u.CreatedAt
	}
	return now.Sub(at) > UnusedAfter
}

// TokenFinding is one token of the security summary with its user.
type TokenFinding struct {
	User  User
	Token Token
}

// SecuritySummary is what the seed's security advice asks an admin to
// look at. Disabled accounts are left out (they cannot sign in, and their
// tokens do not work), and so are expired tokens.
type SecuritySummary struct {
	// NoTwoFactor are the users without two-factor authentication.
	NoTwoFactor []User
	// OldPasswords are the users whose password is older than PasswordMaxAge.
	OldPasswords []User
	// Unused are the accounts without a sign-in for UnusedAfter.
	Unused []User
	// OpenTokens are the tokens without an IP white list.
	OpenTokens []TokenFinding
	// FarTokens are the tokens that expire more than TokenFarExpiry from now.
	FarTokens []TokenFinding
}

// Empty reports whether the summary found nothing to act on.
func (s SecuritySummary) Empty() bool {
	return len(s.NoTwoFactor)+len(s.OldPasswords)+len(s.Unused)+len(s.OpenTokens)+len(s.FarTokens) == 0
}

// SecuritySummary computes the summary at the store's current time, in
// one read transaction, users by id and tokens oldest first.
func (s *Store) SecuritySummary() (SecuritySummary, error) {
	var sum SecuritySummary
	now := s.now()
	err := s.View(func(tx *Tx) error {
		users, err := tx.Users()
		if err != nil {
			return err
		}
		for _, u := range users {
			if u.Disabled {
				continue
			}
			if !u.TwoFactor {
				sum.NoTwoFactor = append(sum.NoTwoFactor, u)
			}
			if u.PasswordOld(now) {
				sum.OldPasswords = append(sum.OldPasswords, u)
			}
			if u.Unused(now) {
				sum.Unused = append(sum.Unused, u)
			}
			tokens, err := tx.tokensOf(u.ID)
			if err != nil {
				return err
			}
			for _, t := range tokens {
				if t.Expired(now) {
					continue
				}
				if len(t.IPs) == 0 {
					sum.OpenTokens = append(sum.OpenTokens, TokenFinding{User: u, Token: t})
				}
				if t.ExpiresAt.Sub(now) > TokenFarExpiry {
					sum.FarTokens = append(sum.FarTokens, TokenFinding{User: u, Token: t})
				}
			}
		}
		return nil
	})
	if err != nil {
		return SecuritySummary{}, fmt.Errorf("model: security summary: %w", err)
	}
	return sum, nil
}
