// Package throttle slows down guessing and floods before they cost anything.
//
// Limiter counts failed sign-in attempts (wrong passwords, wrong second
// factors, wrong access tokens, refused passkeys) per client address and per
// username, and makes the guesser wait. Rate bounds how often one address
// may do something that is not a guess but holds server-side state, such as
// starting a passkey login. Both are bounded in memory and take their clock
// from the caller, so tests move time without sleeping.
package throttle

import (
	"net/netip"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// addrKey maps an address to its table key: IPv4 (including IPv4-mapped
// IPv6) as is, IPv6 masked to its /64 with any zone dropped. IPv6 is keyed
// by its /64 because one host or subscriber usually owns a whole /64 and
// could otherwise rotate addresses for free; IPv4-mapped addresses are
// unmapped first so both spellings of one client share a counter. The
// invalid zero Addr stays the zero Addr, so callers that fail to parse a
// client address share one (strict) bucket rather than escaping the limit.
func addrKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		// Prefix cannot fail for 64 bits of an IPv6 address, and it strips
		// the zone.
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// nameKey lower-cases a username the way the store compares them
// (model.UsernameKey, ASCII only), so "Admin" and "admin" share a count
// while "\u212Aate" (Kelvin sign) does not share kate's. UsernameKey
// returns its argument unchanged (no allocation) for already lower-case
// names, the common case. Names longer than any valid
// username share one key: the table is bounded by entries, so a key must
// not be able to hold a megabyte of attacker text.
func nameKey(username string) string {
	if len(username) > maxNameKey {
		return "\x00oversized"
	}
	return model.UsernameKey(username)
}

// maxNameKey is well above the longest valid username (32 bytes).
const maxNameKey = 128

// roundUp rounds a positive wait up to whole seconds, at least one, as
// Retry-After takes whole seconds and "0" would invite an immediate retry.
func roundUp(d time.Duration) time.Duration {
	if d <= time.Second {
		return time.Second
	}
	return (d + time.Second - 1) / time.Second * time.Second
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
