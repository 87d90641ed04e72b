package handlers

import (
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/gatehouse-panel/gatehouse/model"
)

// reauthMaxRun is how many wrong re-authentications in a row a session may
// make: the one that reaches it ends the session. A stolen cookie then
// buys a handful of password guesses, not an oracle limited only by the
// account's failure count.
const reauthMaxRun = 5

// reauthRuns counts the wrong re-authentications in a row of each session,
// in memory: a restart forgets the runs, while the per-account limit (kept
// by the login limiter) still holds. The table is a bounded LRU, so
// sessions guessing at many accounts cannot exhaust memory; evicting a run
// takes 10,000 other sessions failing in between.
type reauthRuns struct {
	mu   sync.Mutex
	runs *simplelru.LRU[string, int]
}

// newReauthRuns returns an empty table.
func newReauthRuns() *reauthRuns {
	// NewLRU fails only for a non-positive size.
	runs, err := simplelru.NewLRU[string, int](10_000, nil)
	if err != nil {
		panic("handlers: " + err.Error())
	}
	return &reauthRuns{runs: runs}
}

// fail counts one more wrong re-authentication of session id and reports
// whether the run reached reauthMaxRun (the run is then forgotten: the
// session is to be ended).
func (r *reauthRuns) fail(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, _ := r.runs.Get(id)
	n++
	if n >= reauthMaxRun {
		r.runs.Remove(id)
		return true
	}
	r.runs.Add(id, n)
	return false
}

// reset ends the run of session id: it re-authenticated.
func (r *reauthRuns) reset(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs.Remove(id)
}

// reauthFailed records a wrong re-authentication (password or code) of the
// acting session, which already counts against the account in the login
// limiter, and ends the session at the reauthMaxRun-th in a row. It returns
// nil while the session lives, else the 401 to answer with: htmx is sent
// to the login page, the API gets problem+json, a plain form the error
// page.
func (h *Handler) reauthFailed(c *fiber.Ctx, detail string) error {
	me, _ := currentUser(c)
	sess, _ := currentSession(c)
	if !h.reauthRuns.fail(sess.ID) {
		h.audit.Add(h.actor(c), model.EventLoginFailed, me.ID, me.Username, detail)
		return nil
	}
	h.audit.Add(h.actor(c), model.EventLoginFailed, me.ID, me.Username, detail+"; session ended after 5 in a row")
	if err := h.store.EndSession(sess.ID, h.actor(c)); err != nil {
		return err
	}
	h.clearSessionCookie(c)
	if isHTMX(c) || c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", "/login")
	}
	return errStatus(fiber.StatusUnauthorized, "Five wrong attempts in a row: your session has ended. Log in again.")
}
