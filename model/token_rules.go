package model

import (
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Access token values look like gth_<43 base62 characters><6 base62
// characters>: a recognizable prefix (so secret scanners and people can
// tell what leaked), 256 bits of randomness, and a CRC-32 checksum of
// everything before it, so that a mistyped or truncated token is refused
// without a database lookup. Only the SHA-256 of the value is stored.
const (
	// TokenPrefix starts every access token value.
	TokenPrefix = "gth_"
	// tokenRandomBytes is the randomness of a token: 256 bits.
	tokenRandomBytes = 32
	// tokenBodyLen is the base62 length of 32 bytes: 62^43 > 2^256.
	tokenBodyLen = 43
	// tokenSumLen is the base62 length of a CRC-32: 62^6 > 2^32.
	tokenSumLen = 6
	// TokenValueLen is the length of every token value.
	TokenValueLen = len(TokenPrefix) + tokenBodyLen + tokenSumLen
	// tokenIDLen is the length of a token's public id (about 60 bits).
	tokenIDLen = 12
)

// Limits of a token's fields, shared by the web UI, the API and the CLI.
const (
	// TokenMaxIPs bounds the entries of a token's IP white list.
	TokenMaxIPs = 100
	// TokenMaxLifetimeYears is how far in the future an expiry may lie.
	TokenMaxLifetimeYears = 10
	maxIPEntryLen         = 64
)

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62 writes n in base62, left-padded with '0' to width characters.
func base62(n *big.Int, width int) string {
	b := make([]byte, width)
	for i := range b {
		b[i] = '0'
	}
	n = new(big.Int).Set(n)
	base, rem := big.NewInt(62), new(big.Int)
	for i := width - 1; i >= 0 && n.Sign() > 0; i-- {
		n.DivMod(n, base, rem)
		b[i] = base62Alphabet[rem.Int64()]
	}
	return string(b)
}

// tokenChecksum is the base62 CRC-32 of s, tokenSumLen characters. It is
// written by hand (no big.Int) because it runs on every API request.
func tokenChecksum(s string) [tokenSumLen]byte {
	v := crc32.ChecksumIEEE([]byte(s))
	var b [tokenSumLen]byte
	for i := tokenSumLen - 1; i >= 0; i-- {
		b[i] = base62Alphabet[v%62]
		v /= 62
	}
	return b
}

// NewTokenValue returns a fresh token value: the prefix, 256 random bits in
// base62, and the checksum.
func NewTokenValue() string {
	raw := make([]byte, tokenRandomBytes)
	if _, err := rand.Read(raw); err != nil {
		panic("model: crypto/rand failed: " + err.Error()) // never happens on Linux ≥ 3.17
	}
	s := TokenPrefix + base62(new(big.Int).SetBytes(raw), tokenBodyLen)
	sum := tokenChecksum(s)
	return s + string(sum[:])
}

// WellFormedToken reports whether s has the shape of a token value with a
// correct checksum. A false answer needs no database lookup.
func WellFormedToken(s string) bool {
	if len(s) != TokenValueLen || !strings.HasPrefix(s, TokenPrefix) {
		return false
	}
	for i := len(TokenPrefix); i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	sum := tokenChecksum(s[:len(s)-tokenSumLen])
	return string(sum[:]) == s[len(s)-tokenSumLen:]
}

// newTokenID returns a random public token id: 12 characters of lower-case
// letters and digits, without look-alikes, safe in URLs.
func newTokenID() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // 32 symbols, 5 bits each
	raw := randomBytes(tokenIDLen)
	b := make([]byte, tokenIDLen)
	for i, r := range raw {
		b[i] = alphabet[r&31]
	}
	return string(b)
}

// ParseIPList checks a token's IP white list and returns it in canonical
// form: each entry an IPv4 or IPv6 address or a CIDR range, IPv4-mapped
// IPv6 addresses unmapped (clients are matched unmapped), duplicates
// dropped, order kept. Zones are refused, and so are ranges with host bits
// set ("10.0.0.1/8"), with a hint at the range that was probably meant. An
// empty list means any address. Errors are a ValidationError on "ips".
func ParseIPList(entries []string) ([]string, error) {
	out := make([]string, 0, len(entries))
	seen := map[string]bool{}
	var problems []string
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		canon, err := parseIPEntry(e)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !seen[canon] {
			seen[canon] = true
			out = append(out, canon)
		}
	}
	switch {
	case len(problems) > 3:
		problems = append(problems[:3], fmt.Sprintf("and %d more", len(problems)-3))
		fallthrough
	case len(problems) > 0:
		return nil, FieldError("ips", strings.Join(problems, "; "))
	case len(out) > TokenMaxIPs:
		return nil, FieldError("ips", fmt.Sprintf("at most %d entries are allowed", TokenMaxIPs))
	}
	return out, nil
}

// SplitIPList splits the text of the IP White List field into entries:
// one per line; commas and spaces also separate, as neither occurs in an
// address.
func SplitIPList(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ';'
	})
}

func quoteEntry(e string) string {
	if len(e) > maxIPEntryLen {
		e = e[:maxIPEntryLen] + "…"
	}
	if !utf8.ValidString(e) {
		e = strings.ToValidUTF8(e, "?")
	}
	return strconv.Quote(e)
}

// parseIPEntry checks one white-list entry and returns its canonical form.
func parseIPEntry(e string) (string, error) {
	q := quoteEntry(e)
	if len(e) > maxIPEntryLen {
		return "", fmt.Errorf("%s is too long for an address or range", q)
	}
	if strings.Contains(e, "%") {
		return "", fmt.Errorf("%s: zones (the %%… part) are not allowed", q)
	}
	addrPart, bitsPart, isRange := strings.Cut(e, "/")
	a, err := netip.ParseAddr(addrPart)
	if err != nil {
		return "", fmt.Errorf("%s is not an IPv4 or IPv6 address or CIDR range", q)
	}
	if !isRange {
		return a.Unmap().String(), nil
	}
	bits, err := strconv.Atoi(bitsPart)
	if err != nil || bitsPart == "" || bitsPart[0] == '+' || bitsPart[0] == '-' || (len(bitsPart) > 1 && bitsPart[0] == '0') {
		return "", fmt.Errorf("%s: the prefix length after / must be a number", q)
	}
	if bits < 0 || bits > a.BitLen() {
		if a.Is4() {
			return "", fmt.Errorf("%s: an IPv4 prefix length is 0 to 32", q)
		}
		return "", fmt.Errorf("%s: an IPv6 prefix length is 0 to 128", q)
	}
	p := netip.PrefixFrom(a, bits)
	if m := p.Masked(); m != p {
		return "", fmt.Errorf("%s has host bits set: did you mean %s?", q, m)
	}
	// An IPv4-mapped range such as ::ffff:10.0.0.0/104 means 10.0.0.0/8,
	// since client addresses are unmapped before matching.
	if a.Is4In6() && bits >= 96 {
		p = netip.PrefixFrom(a.Unmap(), bits-96)
	}
	return p.String(), nil
}

// ipAllowed reports whether ip matches an entry of a canonical list; an
// empty list allows every address. ip must be unmapped.
func ipAllowed(list []string, ip netip.Addr) bool {
	if len(list) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, e := range list {
		if strings.IndexByte(e, '/') >= 0 {
			if p, err := netip.ParsePrefix(e); err == nil && p.Contains(ip) {
				return true
			}
		} else if a, err := netip.ParseAddr(e); err == nil && a == ip {
			return true
		}
	}
	return false
}

// ValidateTokenExpiry checks the expiry rule at now: required, after now,
// and at most now + 10 years (inclusive).
func ValidateTokenExpiry(t, now time.Time) error {
	switch {
	case t.IsZero():
		return errors.New("expiration time is required")
	case !t.After(now):
		return errors.New("expiration time must be in the future")
	case t.After(now.AddDate(TokenMaxLifetimeYears, 0, 0)):
		return fmt.Errorf("expiration time must be at most %d years from now", TokenMaxLifetimeYears)
	}
	return nil
}

// Token scopes: what a token may do with its user's rights.
const (
	// TokenScopeRead allows only reading requests (GET and HEAD).
	TokenScopeRead = "read"
	// TokenScopeWrite allows everything the token's user may do; tokens
	// stored before scopes existed are write tokens, as they could write.
	TokenScopeWrite = "write"
)

// ValidateTokenScope checks the scope rule: read or write. The empty
// scope is not valid input; callers choose their default before.
func ValidateTokenScope(s string) error {
	if s != TokenScopeRead && s != TokenScopeWrite {
		return errors.New("scope must be read or write")
	}
	return nil
}

// ParseTokenExpiry reads an RFC 3339 time, as the API sends it. Sub-second
// digits are dropped, and the result is in UTC.
func ParseTokenExpiry(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("expiration time is required")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || len(s) > 64 {
		return time.Time{}, errors.New("expiration time must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
	}
	return t.UTC().Truncate(time.Second), nil
}

// ParseLocalExpiry reads the Expiration Time of the browser form: the
// value of a datetime-local input ("2030-01-02T15:04", seconds optional),
// in the browser's time zone, given as tzOffset, the minutes to add to
// local time to get UTC (JavaScript's Date.getTimezoneOffset); an empty
// offset means UTC. An RFC 3339 value is taken as it is.
func ParseLocalExpiry(value, tzOffset string) (time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return time.Time{}, errors.New("expiration time is required")
	}
	if t, err := ParseTokenExpiry(value); err == nil {
		return t, nil
	}
	offset := 0
	if tzOffset != "" {
		n, err := strconv.Atoi(tzOffset)
		if err != nil || n < -16*60 || n > 16*60 {
			return time.Time{}, errors.New("the browser sent an invalid time zone offset; reload the page")
		}
		offset = n
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, value); err == nil {
			return t.Add(time.Duration(offset) * time.Minute).UTC(), nil
		}
	}
	return time.Time{}, errors.New("expiration time must be a date and time such as 2030-01-02 15:04")
}
