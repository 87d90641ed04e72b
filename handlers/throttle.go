package handlers

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
)

// What a throttled request is told, before "Try again in …".
const (
	// msgTooManyFailures answers sign-in steps (password, second factor,
	// re-authentication, passkey).
	msgTooManyFailures = "Too many failed attempts."
	// msgTooManyAddressFailures answers access tokens, which have no
	// username: only the address is held back.
	msgTooManyAddressFailures = "Too many failed attempts from your address."
	// msgTooManyPasskeyStarts answers passkey login starts beyond the rate.
	msgTooManyPasskeyStarts = "Too many passkey sign-ins were started from your address."
)

// reserve is the guard in front of every check of a sign-in secret
// (password, second-factor code, re-authentication, passkey; access
// tokens have their own limiter, see bearerAuth): it asks the login limiter to
// count one attempt from ip at username ("" for the address alone) before
// anything is checked or hashed. The attempt counts as failed from here
// on; the caller hands the ticket to h.limiter.Refund only when it turns
// out not to be a guess. When the limiter refuses, the answer is set up as
// throttled describes, with msg saying what was refused.
func (h *Handler) reserve(c *fiber.Ctx, ip netip.Addr, username string, trustedDevice bool, msg string) (throttle.Ticket, error) {
	return h.reserveOn(h.limiter, c, ip, username, trustedDevice, msg)
}

// reserveOn is reserve on another limiter than the login limiter (refused
// access tokens have their own, see bearerAuth).
func (h *Handler) reserveOn(lim *throttle.Limiter, c *fiber.Ctx, ip netip.Addr, username string, trustedDevice bool, msg string) (throttle.Ticket, error) {
	t, ok, wait := lim.Reserve(ip, username, trustedDevice)
	if !ok {
		// Counted per address and minute with the other outside failures.
		h.audit.Add(model.Actor{Name: username, IP: ip.String()}, model.EventRequestThrottled, 0, "", c.Method()+" "+c.Path())
		return t, throttled(c, msg, wait)
	}
	return t, nil
}

// throttled sets Retry-After for wait and returns the 429 error that says
// msg and when to try again, e.g. "Too many failed attempts. Try again in
// 5 seconds." The message is safe to show (statusOf returns it); pages
// that re-render a form put it there instead.
func throttled(c *fiber.Ctx, msg string, wait time.Duration) error {
	c.Set(fiber.HeaderRetryAfter, retryAfterSeconds(wait))
	return errStatus(fiber.StatusTooManyRequests, msg+" Try again in "+humanDuration(wait)+".")
}

// retryAfterSeconds formats a wait for the Retry-After header (whole
// seconds, at least 1).
func retryAfterSeconds(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}

// humanDuration says a wait in words: "5 seconds", "3 minutes".
func humanDuration(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	switch {
	case s < 2:
		return "1 second"
	case s < 120:
		return strconv.Itoa(s) + " seconds"
	default:
		return strconv.Itoa((s+59)/60) + " minutes"
	}
}
