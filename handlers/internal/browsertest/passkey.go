package browsertest

import (
	"strings"
	"testing"

	"github.com/go-rod/rod/lib/proto"
)

// RunPasskeyScenario is the passkey walk-through of a person, shared by the
// browser test at http://localhost and the end-to-end test over real
// HTTPS. b is on a fresh panel whose admin has password; check, when not
// nil, looks at the server's state after each step.
func RunPasskeyScenario(t *testing.T, b *UI, password string, check func(step string)) {
	t.Helper()
	if check == nil {
		check = func(string) {}
	}
	authID := b.AddVirtualAuthenticator()
	// Chromium's virtual authenticator answers a conditional (autofill)
	// request at once, without the person choosing anything; so the steps
	// that click "Sign in with a passkey" run as in a browser without
	// autofill for passkeys, and one step below uses autofill on purpose.
	allowAutofill := b.WithoutPasskeyAutofill()

	b.Navigate("/login")
	b.El("#username")
	b.Login("admin", password)

	// Register "laptop" in the own Passkeys dialog.
	b.Click(`tr[data-username="admin"] a[data-testid=passkeys]`)
	b.WaitJS("the Passkeys dialog to open", `() => document.getElementById("dialog").open`)
	b.WaitFocus("#passkey-name")
	b.Fill("#passkey-name", "laptop")
	b.Click(`#passkey-register button[data-testid=add-passkey]`)
	row := `#passkeys tr[data-passkey-name="laptop"]`
	b.WaitText(row+` [data-testid=passkey-name]`, "laptop")
	b.WaitText(row+` [data-testid=passkey-last-used]`, "Never")
	b.WaitText(`tr[data-username="admin"] [data-testid=passkey-count]`, "1")
	if strings.HasPrefix(b.Base, "https:") {
		b.Screenshot("https-passkeys.png")
	} else {
		b.Screenshot("passkeys.png")
	}
	creds := b.Credentials(authID)
	if len(creds) != 1 || !creds[0].IsResidentCredential {
		b.T.Fatalf("the authenticator holds %+v, want one discoverable credential", creds)
	}
	check("registered")

	// Log out, then sign in with the passkey alone: no username typed.
	b.Click(`#passkeys a[data-close-dialog]`)
	b.WaitJS("the dialog to close", `() => !document.getElementById("dialog").open`)
	b.SubmitPage(`form.logout button[type=submit]`)
	b.El("#passkey-login")
	if got := b.Value("#username"); got != "" {
		b.T.Errorf("the username field holds %q before the passkey login", got)
	}
	b.SubmitPage("#passkey-login")
	b.WaitText(`[data-testid=me]`, "admin")
	b.El("table.users")
	check("used")

	// Browser autofill (conditional mediation) signs in too.
	b.SubmitPage(`form.logout button[type=submit]`)
	b.El("#passkey-login")
	noAutofill := allowAutofill()
	b.Navigate("/login")
	b.WaitText(`[data-testid=me]`, "admin")
	noAutofill()
	check("autofill")

	// Last Used is a time now.
	b.Click(`tr[data-username="admin"] a[data-testid=passkeys]`)
	b.WaitJS("the Passkeys dialog to open", `() => document.getElementById("dialog").open`)
	// Shown relative ("just now"), the exact time on hover.
	b.WaitText(row+` [data-testid=passkey-last-used]`, "just now")
	b.WaitJS("the exact Last Used time on hover", `(s) => document.querySelector(s + " [data-testid=passkey-last-used] time").title !== ""`, row)
	if got := b.Text(row + ` [data-testid=passkey-last-used]`); strings.Contains(got, "Never") {
		b.T.Errorf("Last Used after the passkey login shows %q", got)
	}

	// Delete it (with confirmation).
	b.ConfirmClick(row+` button[data-testid=delete-passkey]`, "laptop")
	b.WaitText(`#passkeys [data-testid=passkey-flash]`, "Passkey laptop deleted.")
	b.WaitText(`#passkeys [data-testid=no-passkeys]`, "No passkeys yet")
	check("deleted")

	// The authenticator still holds the credential, but the panel refuses it.
	b.Click(`#passkeys a[data-close-dialog]`)
	b.WaitJS("the dialog to close", `() => !document.getElementById("dialog").open`)
	b.SubmitPage(`form.logout button[type=submit]`)
	b.El("#passkey-login")
	b.Click("#passkey-login")
	b.WaitText("#passkey-login-error", "not registered with this panel")
	if u := b.URL(); !strings.HasSuffix(u, "/login") {
		b.T.Errorf("after a refused passkey login the browser is at %s", u)
	}
	b.El(`form[action="/login"] #password`)
}

// AddVirtualAuthenticator enables the DevTools WebAuthn domain and adds a
// platform authenticator that holds passkeys and verifies its user.
func (b *UI) AddVirtualAuthenticator() proto.WebAuthnAuthenticatorID {
	b.T.Helper()
	if err := (proto.WebAuthnEnable{}).Call(b.Page); err != nil {
		b.T.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := proto.WebAuthnAddVirtualAuthenticator{Options: &proto.WebAuthnVirtualAuthenticatorOptions{
		Protocol:                    proto.WebAuthnAuthenticatorProtocolCtap2,
		Ctap2Version:                proto.WebAuthnCtap2VersionCtap21,
		Transport:                   proto.WebAuthnAuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              true,
		AutomaticPresenceSimulation: true,
	}}.Call(b.Page)
	if err != nil {
		b.T.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// WithoutPasskeyAutofill makes the pages loaded from now on behave as in a
// browser without conditional mediation. It returns a function that allows
// it again, which returns one that forbids it again.
func (b *UI) WithoutPasskeyAutofill() func() func() {
	b.T.Helper()
	remove, err := b.Page.EvalOnNewDocument(`window.PublicKeyCredential && (PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false));`)
	if err != nil {
		b.T.Fatalf("add a script to new documents: %v", err)
	}
	return func() func() {
		b.T.Helper()
		if err := remove(); err != nil {
			b.T.Fatalf("remove the script: %v", err)
		}
		return func() { b.WithoutPasskeyAutofill() }
	}
}

// Credentials lists what the virtual authenticator holds.
func (b *UI) Credentials(id proto.WebAuthnAuthenticatorID) []*proto.WebAuthnCredential {
	b.T.Helper()
	res, err := proto.WebAuthnGetCredentials{AuthenticatorID: id}.Call(b.Page)
	if err != nil {
		b.T.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}
