package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The loaders of route parameters, shared by the pages and the API: a
// record that does not exist is a 404 with a message safe to show, in the
// form of the request's route group (errors.go).

var (
	errNoUser  = errStatus(fiber.StatusNotFound, "This user does not exist (any more).")
	errNoToken = errStatus(fiber.StatusNotFound, "This user has no such token (any more).")
)

// userParam loads the user named by the :id route parameter.
func (h *Handler) userParam(c *fiber.Ctx) (model.User, error) {
	id, err := c.ParamsInt("id")
	if err != nil || id <= 0 {
		return model.User{}, errNoUser
	}
	u, err := h.store.User(id)
	if errors.Is(err, model.ErrNotFound) {
		return model.User{}, errNoUser
	}
	return u, err
}

// tokenParam loads the :id user and that user's :tid token, which every
// handler of one token needs first.
func (h *Handler) tokenParam(c *fiber.Ctx) (model.User, model.Token, error) {
	u, err := h.userParam(c)
	if err != nil {
		return model.User{}, model.Token{}, err
	}
	t, err := h.store.Token(u.ID, c.Params("tid"))
	if errors.Is(err, model.ErrNotFound) {
		return model.User{}, model.Token{}, errNoToken
	}
	return u, t, err
}
