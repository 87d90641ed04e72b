package browsertest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/go-rod/rod/lib/proto"
)

// Theme is a value of the prefers-color-scheme media feature.
type Theme string

// The two themes the panel follows.
const (
	Light Theme = "light"
	Dark  Theme = "dark"
)

// EmulateTheme makes the tab prefer theme, as the system setting of a
// person would (CSS prefers-color-scheme).
func (b *UI) EmulateTheme(theme Theme) {
	b.T.Helper()
	err := proto.EmulationSetEmulatedMedia{Features: []*proto.EmulationMediaFeature{{Name: "prefers-color-scheme", Value: string(theme)}}}.Call(b.Page)
	if err != nil {
		b.T.Fatalf("emulate prefers-color-scheme: %s: %v", theme, err)
	}
}

// Phone sizes of a common phone (390×844 CSS pixels, device scale 3).
const (
	PhoneWidth  = 390
	PhoneHeight = 844
)

// EmulatePhone turns the tab into a phone: 390×844 CSS pixels at device
// scale 3, mobile (the viewport meta tag counts, and a page that is too
// wide gets zoomed out as on a real phone) and touch.
func (b *UI) EmulatePhone() {
	b.T.Helper()
	w, h := PhoneWidth, PhoneHeight
	err := proto.EmulationSetDeviceMetricsOverride{
		Width: w, Height: h, DeviceScaleFactor: 3, Mobile: true, ScreenWidth: &w, ScreenHeight: &h,
	}.Call(b.Page)
	if err == nil {
		err = proto.EmulationSetTouchEmulationEnabled{Enabled: true, MaxTouchPoints: ptr(5)}.Call(b.Page)
	}
	if err != nil {
		b.T.Fatalf("emulate a phone: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// Overflow lists the shown elements whose right edge lies past the
// screen's width (screen.width, not innerWidth: a mobile browser zooms a
// page that is too wide out, so that innerWidth grows with it), except
// inside a box that scrolls by itself (overflow-x auto or scroll) or one
// that clips its content (the visually hidden labels). The dialog does
// not count as such a box: it must fit, without a sideways scroll.
func (b *UI) Overflow() []string {
	b.T.Helper()
	out := b.Eval(`() => {
		const W = screen.width, bad = [];
		const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
			(e.classList.length ? "." + [...e.classList].join(".") : "") +
			(e.dataset.testid ? "[data-testid=" + e.dataset.testid + "]" : "");
		const contained = (e) => {
			// A modal dialog scrolls by itself (the browser's own style), but
			// a dialog one must scroll sideways does not fit the screen.
			for (let p = e.parentElement; p && p !== document.body && p.tagName !== "DIALOG"; p = p.parentElement) {
				const o = getComputedStyle(p).overflowX;
				if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") { return true; }
			}
			return false;
		};
		for (const e of document.body.querySelectorAll("*")) {
			const r = e.getBoundingClientRect();
			if (r.width === 0 || r.height === 0) { continue; }
			if (r.right > W + 0.5 && !contained(e)) {
				bad.push(name(e) + " right=" + Math.round(r.right) + " (" + (e.innerText || "").trim().slice(0, 30).replace(/\s+/g, " ") + ")");
			}
		}
		const d = document.querySelector("dialog[open]");
		if (d && d.scrollWidth > d.clientWidth + 1) {
			bad.push(name(d) + " must be scrolled sideways: content " + d.scrollWidth + " px wide in " + d.clientWidth + " px");
		}
		return JSON.stringify({bad});
	}`)
	var r struct {
		Bad []string `json:"bad"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		b.T.Fatalf("overflow check: %v", err)
	}
	return r.Bad
}

// AxeTags are the axe-core rule tags of WCAG 2.1 levels A and AA.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// AxeViolation is one rule axe-core found broken, with the elements that
// break it.
type AxeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target         []any  `json:"target"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

// AxeResult is what axe-core found on the page.
type AxeResult struct {
	Passes     int // rules that passed
	Violations []AxeViolation
}

// String lists the violations, rule id, impact, targets and summary.
func (r AxeResult) String() string {
	var sb strings.Builder
	for _, v := range r.Violations {
		fmt.Fprintf(&sb, "\n  %s (%s): %s", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			fmt.Fprintf(&sb, "\n    %v: %s", n.Target, strings.ReplaceAll(n.FailureSummary, "\n", " "))
		}
	}
	return sb.String()
}

// Axe runs axe-core (fetched by scripts/fetch-assets.sh into testdata,
// never into the binary) on the page, restricted to AxeTags. The script is
// evaluated through the DevTools protocol (Runtime.evaluate), which the
// page's Content Security Policy does not govern: the panel itself still
// allows no inline or foreign script.
func (b *UI) Axe() AxeResult {
	b.T.Helper()
	src, err := os.ReadFile(AxePath())
	if err != nil {
		b.T.Fatalf("axe-core: %v (run scripts/fetch-assets.sh)", err)
	}
	if _, err := (proto.RuntimeEvaluate{Expression: string(src)}).Call(b.Page); err != nil {
		b.T.Fatalf("inject axe-core: %v", err)
	}
	tags, _ := json.Marshal(AxeTags)
	res, err := b.Page.Timeout(3*Wait).Eval(`async (tags) => {
		const r = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
		return JSON.stringify({passes: r.passes.length, violations: r.violations});
	}`, json.RawMessage(tags))
	if err != nil {
		b.T.Fatalf("run axe-core on %s: %v", b.URL(), err)
	}
	var r struct {
		Passes     int            `json:"passes"`
		Violations []AxeViolation `json:"violations"`
	}
	if err := json.Unmarshal([]byte(res.Value.Str()), &r); err != nil {
		b.T.Fatalf("axe-core result: %v", err)
	}
	return AxeResult{Passes: r.Passes, Violations: r.Violations}
}

// AxePath is where scripts/fetch-assets.sh puts axe-core: testdata of this
// package, found from this source file so that any package's test can use
// it.
func AxePath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "vendor", "axe.min.js")
}

// ScreenshotTo saves the visible part of the page as a PNG at path (the
// README's screenshots, which the tests keep current).
func (b *UI) ScreenshotTo(path string) {
	b.T.Helper()
	png, err := b.Page.Timeout(Wait).Screenshot(false, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	if err != nil {
		b.T.Fatalf("screenshot %s: %v", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.T.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.T.Fatal(err)
	}
	b.T.Logf("screenshot: %s", path)
}
