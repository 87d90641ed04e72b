package handlers

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCSVCell: no exported cell starts a spreadsheet formula, and a
// neutralised cell is the value behind one apostrophe.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"", "=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "admin", "'=x", "=HYPERLINK(\"http://x\")"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := csvCell(s)
		if got != "" && strings.ContainsRune("=+-@\t\r", rune(got[0])) {
			t.Fatalf("csvCell(%q) = %q starts a formula", s, got)
		}
		if got != s && got != "'"+s {
			t.Fatalf("csvCell(%q) = %q changed the value", s, got)
		}
	})
}

// FuzzSessionViewBack: the address a Sessions view form returns to is
// that view or nothing; never another site or page.
func FuzzSessionViewBack(f *testing.F) {
	for _, s := range []string{"/settings/sessions", "/settings/sessions?user=bob&page=2", "//evil.example", "https://evil.example/",
		"/settings/sessionsx", "/settings/sessions?\r\nLocation: x", "/settings/sessions?/\\evil", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := sessionViewBack(s)
		if got == "" {
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.Path != "/settings/sessions" || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("sessionViewBack(%q) = %q leads elsewhere (%v)", s, got, err)
		}
	})
}
