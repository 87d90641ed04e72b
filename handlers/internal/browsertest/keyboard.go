package browsertest

import (
	"github.com/go-rod/rod/lib/input"
)

// TabTo presses Tab until selector has the focus, as a keyboard user
// moving through the page; it fails the test when max presses do not get
// there (the control is not reachable by keyboard).
func (b *UI) TabTo(selector string, max int) {
	b.T.Helper()
	b.El(selector)
	for range max {
		if b.Eval(`(s) => String(document.activeElement === document.querySelector(s))`, selector) == "true" {
			return
		}
		b.Press(input.Tab)
	}
	if b.Eval(`(s) => String(document.activeElement === document.querySelector(s))`, selector) != "true" {
		b.T.Fatalf("%d presses of Tab do not reach %s; the focus is on %s", max, selector, b.Focused())
	}
}

// Focused describes the element that has the focus.
func (b *UI) Focused() string {
	b.T.Helper()
	return b.Eval(`() => { const e = document.activeElement; if (!e) { return "nothing"; }
		return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.getAttribute("href") ? "[href=" + e.getAttribute("href") + "]" : "") +
			" " + (e.innerText || e.value || "").trim().slice(0, 40) }`)
}

// Type types text (printable ASCII) into the element that has the focus,
// key by key.
func (b *UI) Type(text string) {
	b.T.Helper()
	keys := make([]input.Key, 0, len(text))
	for _, r := range text {
		keys = append(keys, input.Key(r))
	}
	b.Press(keys...)
}

// Enter presses Enter; Escape presses Escape.
func (b *UI) Enter() { b.T.Helper(); b.Press(input.Enter) }

// Escape presses Escape.
func (b *UI) Escape() { b.T.Helper(); b.Press(input.Escape) }

// Ctrl presses key while Control is held (Ctrl+A, Ctrl+Enter).
func (b *UI) Ctrl(key input.Key) {
	b.T.Helper()
	kb := b.Page.Timeout(Wait).Keyboard
	err := kb.Press(input.ControlLeft)
	if err == nil {
		err = kb.Type(key)
	}
	if rerr := kb.Release(input.ControlLeft); err == nil {
		err = rerr
	}
	if err != nil {
		b.T.Fatalf("press Ctrl+%v: %v", key, err)
	}
}
