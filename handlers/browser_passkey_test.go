package handlers_test

import (
	"strings"
	"testing"

	"github.com/go-rod/rod/lib/proto"

	"github.com/gatehouse-panel/gatehouse/model"
)

// TestBrowserPasskeys drives passkeys in headless Chromium at
// http://localhost (a secure context) with the DevTools WebAuthn virtual
// authenticator (CTAP2, internal transport, resident keys, user
// verification): register a passkey named "laptop", see it listed with
// Never, log out, sign in with the passkey and no username, see Last Used
// updated, delete it, and see that passkey login now fails.
func TestBrowserPasskeys(t *testing.T) {
	requireChromium(t)
	store, base := startBrowserApp(t)
	b := newBrowserUI(t, base)
	runPasskeyScenario(t, b, "admin-pass-1", func(step string) {
		admin, err := store.UserByName("admin")
		if err != nil {
			t.Fatal(err)
		}
		list, err := store.Passkeys(admin.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch step {
		case "registered":
			if len(list) != 1 || list[0].Name != "laptop" || list[0].RPID != "localhost" || list[0].LastUsedAt != nil ||
				!list[0].UserVerified || len(list[0].Transports) == 0 || admin.Passkeys != 1 {
				t.Errorf("stored after registration: %+v (count %d)", list, admin.Passkeys)
			}
		case "used", "autofill":
			if len(list) != 1 || list[0].LastUsedAt == nil {
				t.Errorf("stored after the passkey login: %+v", list)
			}
			want := map[string]int{"used": 1, "autofill": 2}[step]
			if n := countAudit(t, store, model.EventPasskeyUsed); n != want {
				t.Errorf("%d %s events, want %d", n, model.EventPasskeyUsed, want)
			}
		case "deleted":
			if len(list) != 0 || admin.Passkeys != 0 {
				t.Errorf("stored after delete: %+v (count %d)", list, admin.Passkeys)
			}
		}
	})
	b.screenshot("passkey-login-refused.png")
	b.checkConsole()
}

// runPasskeyScenario is the passkey walk-through of a person, shared by the
// browser test at http://localhost and the end-to-end test over real
// HTTPS. b is on a fresh panel whose admin has password; check, when not
// nil, looks at the server's state after each step.
func runPasskeyScenario(t *testing.T, b *browserUI, password string, check func(step string)) {
	t.Helper()
	if check == nil {
		check = func(string) {}
	}
	authID := b.addVirtualAuthenticator()
	// Chromium's virtual authenticator answers a conditional (autofill)
	// request at once, without the person choosing anything; so the steps
	// that click "Sign in with a passkey" run as in a browser without
	// autofill for passkeys, and one step below uses autofill on purpose.
	allowAutofill := b.withoutPasskeyAutofill()

	b.navigate("/login")
	b.el("#username")
	b.login("admin", password)

	// Register "laptop" in the own Passkeys dialog.
	b.click(`tr[data-username="admin"] a[data-testid=passkeys]`)
	b.waitJS("the Passkeys dialog to open", `() => document.getElementById("dialog").open`)
	b.waitFocus("#passkey-name")
	b.fill("#passkey-name", "laptop")
	b.click(`#passkey-register button[data-testid=add-passkey]`)
	row := `#passkeys tr[data-passkey-name="laptop"]`
	b.waitText(row+` [data-testid=passkey-name]`, "laptop")
	b.waitText(row+` [data-testid=passkey-last-used]`, "Never")
	b.waitText(`tr[data-username="admin"] [data-testid=passkey-count]`, "1")
	if strings.HasPrefix(b.base, "https:") {
		b.screenshot("https-passkeys.png")
	} else {
		b.screenshot("passkeys.png")
	}
	creds := b.credentials(authID)
	if len(creds) != 1 || !creds[0].IsResidentCredential {
		b.t.Fatalf("the authenticator holds %+v, want one discoverable credential", creds)
	}
	check("registered")

	// Log out, then sign in with the passkey alone: no username typed.
	b.click(`#passkeys a[data-close-dialog]`)
	b.waitJS("the dialog to close", `() => !document.getElementById("dialog").open`)
	b.submitPage(`form.logout button[type=submit]`)
	b.el("#passkey-login")
	if got := b.value("#username"); got != "" {
		b.t.Errorf("the username field holds %q before the passkey login", got)
	}
	b.submitPage("#passkey-login")
	b.waitText(`[data-testid=me]`, "admin")
	b.el("table.users")
	check("used")

	// Browser autofill (conditional mediation) signs in too.
	b.submitPage(`form.logout button[type=submit]`)
	b.el("#passkey-login")
	noAutofill := allowAutofill()
	b.navigate("/login")
	b.waitText(`[data-testid=me]`, "admin")
	noAutofill()
	check("autofill")

	// Last Used is a time now.
	b.click(`tr[data-username="admin"] a[data-testid=passkeys]`)
	b.waitJS("the Passkeys dialog to open", `() => document.getElementById("dialog").open`)
	b.waitText(row+` [data-testid=passkey-last-used]`, "UTC")
	if got := b.text(row + ` [data-testid=passkey-last-used]`); strings.Contains(got, "Never") {
		b.t.Errorf("Last Used after the passkey login shows %q", got)
	}

	// Delete it (with confirmation).
	b.confirmClick(row+` button[data-testid=delete-passkey]`, "laptop")
	b.waitText(`#passkeys [data-testid=passkey-flash]`, "Passkey laptop deleted.")
	b.waitText(`#passkeys [data-testid=no-passkeys]`, "No passkeys yet")
	check("deleted")

	// The authenticator still holds the credential, but the panel refuses it.
	b.click(`#passkeys a[data-close-dialog]`)
	b.waitJS("the dialog to close", `() => !document.getElementById("dialog").open`)
	b.submitPage(`form.logout button[type=submit]`)
	b.el("#passkey-login")
	b.click("#passkey-login")
	b.waitText("#passkey-login-error", "not registered with this panel")
	if u := b.url(); !strings.HasSuffix(u, "/login") {
		b.t.Errorf("after a refused passkey login the browser is at %s", u)
	}
	b.el(`form[action="/login"] #password`)
}

// addVirtualAuthenticator enables the DevTools WebAuthn domain and adds a
// platform authenticator that holds passkeys and verifies its user.
func (b *browserUI) addVirtualAuthenticator() proto.WebAuthnAuthenticatorID {
	b.t.Helper()
	if err := (proto.WebAuthnEnable{}).Call(b.page); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := proto.WebAuthnAddVirtualAuthenticator{Options: &proto.WebAuthnVirtualAuthenticatorOptions{
		Protocol:                    proto.WebAuthnAuthenticatorProtocolCtap2,
		Ctap2Version:                proto.WebAuthnCtap2VersionCtap21,
		Transport:                   proto.WebAuthnAuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              true,
		AutomaticPresenceSimulation: true,
	}}.Call(b.page)
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// withoutPasskeyAutofill makes the pages loaded from now on behave as in a
// browser without conditional mediation. It returns a function that allows
// it again, which returns one that forbids it again.
func (b *browserUI) withoutPasskeyAutofill() func() func() {
	b.t.Helper()
	remove, err := b.page.EvalOnNewDocument(`window.PublicKeyCredential && (PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false));`)
	if err != nil {
		b.t.Fatalf("add a script to new documents: %v", err)
	}
	return func() func() {
		b.t.Helper()
		if err := remove(); err != nil {
			b.t.Fatalf("remove the script: %v", err)
		}
		return func() { b.withoutPasskeyAutofill() }
	}
}

// credentials lists what the virtual authenticator holds.
func (b *browserUI) credentials(id proto.WebAuthnAuthenticatorID) []*proto.WebAuthnCredential {
	b.t.Helper()
	res, err := proto.WebAuthnGetCredentials{AuthenticatorID: id}.Call(b.page)
	if err != nil {
		b.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}
