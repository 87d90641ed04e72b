package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/gatehouse-panel/gatehouse/model"
)

// tokensOf returns a user's tokens with last uses not yet written applied.
func (h *Handler) tokensOf(userID int) ([]model.Token, error) {
	list, err := h.store.Tokens(userID)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i] = h.tokenUses.Latest(list[i])
	}
	return list, nil
}

// apiTokens lists a user's tokens.
func (h *Handler) apiTokens(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	list, err := h.tokensOf(u.ID)
	if err != nil {
		return err
	}
	now := h.now()
	out := make([]apiToken, len(list))
	for i, t := range list {
		out[i] = toAPIToken(t, now)
	}
	return c.JSON(newList(out, len(out)))
}

// apiExpiry reads the expires_at of an API body into the form the model
// validates; an unreadable value is a validation error of that field.
func apiExpiry(s string) (time.Time, error) {
	t, err := model.ParseTokenExpiry(s)
	if err != nil {
		return time.Time{}, model.FieldError("expires_at", err.Error())
	}
	return t, nil
}

// apiTokenCreate creates a token: {ips, expires_at, scope} → 201 with the
// value in "token", the only time it is shown. An omitted scope is write,
// as every API token was before scopes, so that existing scripts keep
// working; the browser dialog proposes read instead.
func (h *Handler) apiTokenCreate(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	var in struct {
		IPs       []string `json:"ips"`
		ExpiresAt string   `json:"expires_at"`
		Scope     *string  `json:"scope"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	exp, expErr := apiExpiry(in.ExpiresAt)
	// An unreadable expires_at arrives as a zero time, which the model
	// refuses too: one answer then names every invalid field.
	scope := model.TokenScopeWrite
	if in.Scope != nil {
		// An explicit "" is refused: only an omitted scope has a default.
		scope = *in.Scope
		if err := model.ValidateTokenScope(scope); err != nil {
			return model.FieldError("scope", err.Error())
		}
	}
	me, _ := currentUser(c)
	nt := model.NewToken{IPs: in.IPs, ExpiresAt: exp, Scope: scope, CreatedBy: me.ID}
	value, t, err := h.store.CreateToken(u.ID, nt, h.actor(c))
	if err != nil {
		return mergeValidation(err, expErr)
	}
	out := toAPIToken(t, h.now())
	out.Token = value
	c.Location("/api/v1/users/" + utils.CopyString(c.Params("id")) + "/tokens/" + t.ID)
	return c.Status(fiber.StatusCreated).JSON(out)
}

// mergeValidation returns err with the field messages of parseErr added,
// so that an answer lists every invalid field at once.
func mergeValidation(err, parseErr error) error {
	v, ok := model.AsValidation(err)
	pv, pok := model.AsValidation(parseErr)
	if !ok || !pok {
		return err
	}
	merged := &model.ValidationError{}
	for k, m := range pv.Fields {
		merged.Add(k, m)
	}
	for k, m := range v.Fields {
		merged.Add(k, m)
	}
	return merged
}

// apiTokenPatch changes a token's white list, expiry or scope: a missing field
// keeps its value, "ips": [] means any address.
func (h *Handler) apiTokenPatch(c *fiber.Ctx) error {
	u, t, err := h.tokenParam(c)
	if err != nil {
		return err
	}
	var in struct {
		IPs       *[]string `json:"ips"`
		ExpiresAt *string   `json:"expires_at"`
		Scope     *string   `json:"scope"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	p := model.TokenPatch{IPs: in.IPs, Scope: in.Scope}
	if in.IPs != nil && *in.IPs == nil {
		empty := []string{}
		p.IPs = &empty
	}
	if in.ExpiresAt != nil {
		exp, err := apiExpiry(*in.ExpiresAt)
		if err != nil {
			// Nothing is saved; report a bad white list too.
			if p.IPs != nil {
				if _, ipErr := model.ParseIPList(*p.IPs); ipErr != nil {
					return mergeValidation(ipErr, err)
				}
			}
			return err
		}
		p.ExpiresAt = &exp
	}
	updated, err := h.store.UpdateToken(u.ID, t.ID, p, h.actor(c))
	if err != nil {
		return err
	}
	return c.JSON(toAPIToken(h.tokenUses.Latest(updated), h.now()))
}

// apiTokenDelete deletes a token; it stops working at once.
func (h *Handler) apiTokenDelete(c *fiber.Ctx) error {
	u, t, err := h.tokenParam(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteToken(u.ID, t.ID, h.actor(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
