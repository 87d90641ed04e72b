package handlers_test

import (
	"testing"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestBrowserPasskeys drives passkeys in headless Chromium at
// http://localhost (a secure context) with the DevTools WebAuthn virtual
// authenticator (CTAP2, internal transport, resident keys, user
// verification): register a passkey named "laptop", see it listed with
// Never, log out, sign in with the passkey and no username, see Last Used
// updated, delete it, and see that passkey login now fails.
func TestBrowserPasskeys(t *testing.T) {
	t.Parallel()
	store, base := startBrowserApp(t)
	b := browsertest.New(t, base)
	browsertest.RunPasskeyScenario(t, b, testkit.AdminPassword, func(step string) {
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
	b.Screenshot("passkey-login-refused.png")
	b.CheckConsole()
}
