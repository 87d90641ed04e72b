package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// securitySummary renders the Security page for admins: what the seed's
// security advice asks to look at (model.SecuritySummary), each finding
// with a link that opens the dialog or the row to act on it. Its own page
// rather than a section of the User tab: it reads every user and token,
// which the User tab, opened far more often, should not pay for.
func (h *Handler) securitySummary(c *fiber.Ctx) error {
	sum, err := h.store.SecuritySummary()
	if err != nil {
		return err
	}
	me, _ := currentUser(c)
	// htmx refreshes the section after a change (the page without the layout).
	return h.render(c, fiber.StatusOK, "pages/security_summary", "pages/security_summary", fiber.Map{
		"Title": "Security", "Nav": "security", "Sum": sum, "MeID": me.ID,
	})
}
