package handlers

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// toastEvent is the htmx event on which app.js shows a short message in
// its aria-live toast (#toast), which goes away after a few seconds.
const toastEvent = "gh-toast"

// toast asks app.js to show msg after a save or a delete, through
// HX-Trigger (JSON form: the message is the event's value), keeping the
// events the answer triggers already (a list such as "gh-dialog-close,
// gh-users-changed", or JSON). Only htmx requests get it: a plain form's
// answer is a page that says what happened itself.
func toast(c *fiber.Ctx, msg string) {
	if !isHTMX(c) {
		return
	}
	events := map[string]any{}
	if prev := strings.TrimSpace(c.GetRespHeader("HX-Trigger")); prev != "" {
		if strings.HasPrefix(prev, "{") {
			_ = json.Unmarshal([]byte(prev), &events)
		} else {
			for _, name := range strings.Split(prev, ",") {
				if name = strings.TrimSpace(name); name != "" {
					events[name] = ""
				}
			}
		}
	}
	events[toastEvent] = msg
	b, err := json.Marshal(events)
	if err != nil {
		return // a map of strings always encodes
	}
	c.Set("HX-Trigger", asciiJSON(string(b)))
}

// asciiJSON escapes the non-ASCII characters of a JSON text (\uXXXX): a
// header value is read by the browser as Latin-1, which would garble
// UTF-8 in a username or an ellipsis.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}
