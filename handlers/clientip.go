package handlers

import (
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Request facts: who the client is and whether it came over HTTPS are
// derived from the raw request (peer address, trusted-proxy headers) once,
// by deriveRequestFacts in front of every route, and read from the
// request's locals after that. One passkey sign-in used to ask for the
// client address three times and for HTTPS four times, each time parsing
// the headers again.

// localsFacts holds the requestFacts of a request.
const localsFacts = "gh.facts"

// requestFacts are what the panel derives from the raw request once.
type requestFacts struct {
	// ip is the client's address (see deriveClientIP).
	ip netip.Addr
	// https is true when the client reached us over HTTPS (see
	// deriveHTTPS).
	https bool
}

// deriveRequestFacts is the first middleware: it derives the request
// facts for everything that follows. They are values (netip.Addr, bool)
// that share no memory with fasthttp's reused buffers.
func (h *Handler) deriveRequestFacts(c *fiber.Ctx) error {
	c.Locals(localsFacts, h.deriveFacts(c))
	return c.Next()
}

func (h *Handler) deriveFacts(c *fiber.Ctx) requestFacts {
	peer := peerAddr(c)
	return requestFacts{ip: h.deriveClientIP(c, peer), https: h.deriveHTTPS(c, peer)}
}

// facts returns the request facts that deriveRequestFacts stored, or
// derives them when it did not run (an answer fasthttp gives before any
// route, such as a too-large body).
func (h *Handler) facts(c *fiber.Ctx) requestFacts {
	if f, ok := c.Locals(localsFacts).(requestFacts); ok {
		return f
	}
	return h.deriveFacts(c)
}

// clientIP returns the client's address (see deriveClientIP).
func (h *Handler) clientIP(c *fiber.Ctx) netip.Addr { return h.facts(c).ip }

// isHTTPS reports whether the client reached us over HTTPS (see
// deriveHTTPS).
func (h *Handler) isHTTPS(c *fiber.Ctx) bool { return h.facts(c).https }

// deriveClientIP returns the client's address: the TCP peer, unless the
// peer is a trusted proxy, in which case it is the rightmost
// X-Forwarded-For entry that is not itself a trusted proxy. Fiber's c.IP()
// is not used: it returns the leftmost entry, which the client controls.
// Every address is unmapped so that ::ffff:127.0.0.1 matches 127.0.0.0/8.
func (h *Handler) deriveClientIP(c *fiber.Ctx, peer netip.Addr) netip.Addr {
	if !h.trusted(peer) {
		return peer
	}
	xff := c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(string(xff[i]), ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer // a malformed chain: trust nothing beyond the proxy
			}
			a = a.Unmap().WithZone("")
			if !h.trusted(a) {
				return a
			}
		}
	}
	return peer
}

func peerAddr(c *fiber.Ctx) netip.Addr {
	if ta, ok := c.Context().RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.IPv4Unspecified()
}

func (h *Handler) trusted(a netip.Addr) bool {
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// deriveHTTPS reports whether the client reached us over HTTPS: directly
// over TLS, or through a trusted proxy that says so (X-Forwarded-Proto, or
// a public URL with https).
func (h *Handler) deriveHTTPS(c *fiber.Ctx, peer netip.Addr) bool {
	if c.Context().IsTLS() {
		return true
	}
	if !h.trusted(peer) {
		return false
	}
	if p := string(c.Request().Header.Peek(fiber.HeaderXForwardedProto)); p != "" {
		return strings.EqualFold(p, "https")
	}
	return h.public != nil && h.public.Scheme == "https"
}
