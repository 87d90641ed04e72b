package handlers

import (
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientIP returns the client's address: the TCP peer, unless the peer is a
// trusted proxy, in which case it is the rightmost X-Forwarded-For entry
// that is not itself a trusted proxy. Fiber's c.IP() is not used: it
// returns the leftmost entry, which the client controls. Every address is
// unmapped so that ::ffff:127.0.0.1 matches 127.0.0.0/8.
func (h *Handler) clientIP(c *fiber.Ctx) netip.Addr {
	peer := peerAddr(c)
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

// isHTTPS reports whether the client reached us over HTTPS: directly over
// TLS, or through a trusted proxy that says so (X-Forwarded-Proto, or a
// public URL with https).
func (h *Handler) isHTTPS(c *fiber.Ctx) bool {
	if c.Context().IsTLS() {
		return true
	}
	if !h.trusted(peerAddr(c)) {
		return false
	}
	if p := string(c.Request().Header.Peek(fiber.HeaderXForwardedProto)); p != "" {
		return strings.EqualFold(p, "https")
	}
	return h.public != nil && h.public.Scheme == "https"
}
