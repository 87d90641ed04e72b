package handlers_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"github.com/gatehouse-panel/gatehouse/handlers"
	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// browserZone is the browser's time zone in the token test: the form must
// work in it and store UTC.
const browserZone = "America/New_York"

// TestBrowserAccessTokens: in the Access Tokens dialog, create a token
// limited to 127.0.0.1 with the 30-day quick pick (in a browser on New
// York time), copy its value with the Copy button, call the API with it,
// see the last use in the list (a read token, as the dialog proposes,
// created by admin), Modify its white list and scope so that the call is
// refused, see a bad entry refused next to the field, and delete it.
func TestBrowserAccessTokens(t *testing.T) {
	t.Parallel()
	store, base := startBrowserApp(t)
	b := browsertest.New(t, base)
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("token-failure.png")
		}
	})
	if err := (proto.EmulationSetTimezoneOverride{TimezoneID: browserZone}).Call(b.Page); err != nil {
		t.Fatalf("time zone: %v", err)
	}
	if err := (proto.BrowserGrantPermissions{Origin: base,
		Permissions: []proto.BrowserPermissionType{proto.BrowserPermissionTypeClipboardReadWrite, proto.BrowserPermissionTypeClipboardSanitizedWrite},
	}).Call(b.Page.Browser()); err != nil {
		t.Fatalf("clipboard permission: %v", err)
	}
	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	b.Navigate("/login")
	b.Login("admin", testkit.AdminPassword)

	// 1. Open the dialog from the user's row: no tokens yet.
	b.Click(fmt.Sprintf(`#user-%d [data-testid=access-tokens]`, admin.ID))
	b.WaitJS("the Access Tokens dialog to open", `() => document.getElementById("dialog").open`)
	b.WaitSwappedText("#tokens h2", "Access Tokens of admin")
	b.WaitSwappedText("#tokens table.tokens", "No access tokens yet — create one below")

	// 2. Create: white list 127.0.0.1, expiry by the 30-day quick pick.
	b.FillExactly("#token-ips", "127.0.0.1")
	b.Click(`#token-form [data-expires-days="30"]`)
	picked := b.Value("#token-expires")
	// The Time zone select follows the browser's zone (UTC−05:00 or, in
	// summer, UTC−04:00); without JavaScript it says UTC.
	b.WaitJS("the Time zone set to New York's", `() => /^UTC−0[45]:00$/.test(document.querySelector("#token-tz").selectedOptions[0].textContent)`)
	clicked := time.Now()
	b.Click(`#token-form button[type=submit]`)
	b.El("#token-value")
	b.WaitSwappedText("[data-testid=token-created]", "shown only this once")
	b.Screenshot("token-created.png")
	value := b.Value("#token-value")
	if !model.WellFormedToken(value) {
		t.Fatalf("the dialog shows %q, not a token", value)
	}
	list, err := store.Tokens(admin.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("stored tokens: %v, %v", list, err)
	}
	tok := list[0]
	if strings.Join(tok.IPs, ",") != "127.0.0.1" {
		t.Errorf("stored white list %q", tok.IPs)
	}
	// The dialog proposed read; the creator is the signed-in admin.
	if tok.Scope != model.TokenScopeRead || tok.CreatedBy != admin.ID {
		t.Errorf("stored scope %q created by %d, want read by %d", tok.Scope, tok.CreatedBy, admin.ID)
	}
	b.WaitSwappedText(fmt.Sprintf(`#token-%s [data-testid=scope]`, tok.ID), "Read only")
	b.WaitSwappedText(fmt.Sprintf(`#token-%s [data-testid=created-by]`, tok.ID), "admin")
	// The browser showed New York time; the store holds the same instant.
	ny, err := time.LoadLocation(browserZone)
	if err == nil {
		if got := tok.ExpiresAt.In(ny).Format("2006-01-02T15:04"); got != picked {
			t.Errorf("stored expiry %v is %s in New York, the form showed %s", tok.ExpiresAt, got, picked)
		}
	}
	if d := tok.ExpiresAt.Sub(clicked); d < 30*24*time.Hour-2*time.Minute || d > 30*24*time.Hour+2*time.Minute {
		t.Errorf("the 30-day quick pick stored an expiry %v from now", d)
	}

	// 3. Copy: the Copy button puts exactly the value on the clipboard.
	b.Click(`[data-testid=token-created] button[data-copy]`)
	b.WaitSwappedText(`[data-testid=token-created] button[data-copy]`, "Copied")
	clip, err := b.Page.Timeout(browsertest.Wait).Eval(`() => navigator.clipboard.readText()`)
	if err != nil {
		t.Fatalf("read the clipboard: %v", err)
	}
	if got := clip.Value.String(); got != value {
		t.Fatalf("the clipboard holds %q, want the token value", got)
	}

	// 4. Call the API with the copied value, from 127.0.0.1.
	if status, body := callMe(t, base, value); status != 200 || !strings.Contains(body, `"username":"admin"`) {
		t.Fatalf("GET /api/v1/me with the new token: %d %s", status, body)
	}
	// The list shows the use at once (it is written to disk in batches).
	b.Click(fmt.Sprintf(`#token-%s [data-testid=modify]`, tok.ID))
	b.WaitSwappedText("#token-form h3", "Modify token")
	b.WaitJS("the Modify form to show the expiry as picked, in the browser's time zone ("+picked+")",
		`(want) => document.querySelector("#token-expires").value === want`, picked)
	b.WaitSwappedText(fmt.Sprintf(`#token-%s [data-testid=last-used]`, tok.ID), "from 127.0.0.1")
	if strings.Contains(b.HTML(), value) {
		t.Error("the value is shown again after leaving the creation answer")
	}

	// 5. Modify: a bad entry is refused next to the field, nothing saved.
	b.FillExactly("#token-ips", "10.0.0.1/8")
	b.Click(`#token-form button[type=submit]`)
	b.WaitSwappedText(`#token-form .field-error[data-field=ips]`, "did you mean 10.0.0.0/8?")
	b.WaitJS("the white list marked invalid", `() => document.querySelector("#token-ips").getAttribute("aria-invalid") === "true"`)
	if got, _ := store.Token(admin.ID, tok.ID); strings.Join(got.IPs, ",") != "127.0.0.1" {
		t.Fatalf("a refused Modify saved %q", got.IPs)
	}
	b.Screenshot("token-modify-error.png")
	b.FillExactly("#token-ips", "10.0.0.0/8")
	b.Click(`#token-form [data-testid=scope-write]`)
	b.Click(`#token-form button[type=submit]`)
	b.WaitSwappedText("[data-testid=token-flash]", "modified")
	b.WaitSwappedText(fmt.Sprintf(`#token-%s [data-testid=ips]`, tok.ID), "10.0.0.0/8")
	b.WaitSwappedText(fmt.Sprintf(`#token-%s [data-testid=scope]`, tok.ID), "Read and write")
	got, _ := store.Token(admin.ID, tok.ID)
	if strings.Join(got.IPs, ",") != "10.0.0.0/8" || !got.ExpiresAt.Equal(tok.ExpiresAt) || got.Scope != model.TokenScopeWrite {
		t.Errorf("after Modify: %q, expires %v (was %v), scope %q", got.IPs, got.ExpiresAt, tok.ExpiresAt, got.Scope)
	}
	if status, body := callMe(t, base, value); status != 403 || !strings.Contains(body, "white list") {
		t.Errorf("a call from outside the new white list: %d %s", status, body)
	}

	// 6. Delete, confirmed: the token stops working at once.
	b.ConfirmClick(fmt.Sprintf(`#token-%s [data-testid=delete]`, tok.ID), tok.ID)
	b.WaitSwappedText("[data-testid=token-flash]", "deleted")
	b.WaitSwappedText("#tokens table.tokens", "No access tokens yet — create one below")
	if status, _ := callMe(t, base, value); status != 401 {
		t.Errorf("a deleted token got %d, want 401", status)
	}
	b.CheckConsole()
}

// callMe calls GET /api/v1/me with a bearer token, from 127.0.0.1. The
// exchange is checked against openapi.json like every API call of the
// in-process tests.
func callMe(t *testing.T, base, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/api/v1/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	tr := handlers.ContractChecker(t).Transport(&http.Transport{DialContext: d.DialContext}, func(err error) { t.Error(err) })
	client := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
