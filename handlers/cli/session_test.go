package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestCLISessions: `gatehouse user sessions NAME` lists the sessions under
// their public ids (never the secret or the storage id), and `gatehouse
// user logout NAME` ends all of them, and only that user's; both work on
// the file and through a running panel.
func TestCLISessions(t *testing.T) {
	for _, viaPanel := range []bool{false, true} {
		name := "on the file"
		if viaPanel {
			name = "through the panel"
		}
		t.Run(name, func(t *testing.T) {
			dir := newDB(t)
			var secrets []string
			var publicIDs []string
			withStore(t, dir, func(s *model.Store) {
				testkit.AddUser(t, s, "alice")
				alice, _ := s.UserByName("alice")
				admin, _ := s.UserByName("admin")
				for _, ua := range []string{
					"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
					"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
				} {
					tok, sess, err := s.CreateSession(alice.ID, "192.0.2.7", ua, model.ActorFor(alice, ""), "password")
					if err != nil {
						t.Fatal(err)
					}
					secrets = append(secrets, tok, sess.ID)
					publicIDs = append(publicIDs, s.SessionPublicID(sess.ID))
				}
				if _, _, err := s.CreateSession(admin.ID, "", "", model.ActorFor(admin, ""), "password"); err != nil {
					t.Fatal(err)
				}
			})
			var p *panel
			if viaPanel {
				p = startPanel(t, dir)
			}
			code, stdout, stderr := runCmd(t, "", "user", "sessions", "alice", "--data", dir)
			checkOutput(t, code, stdout, stderr, 0, []string{"ID", "CREATED", "LAST SEEN", "ADDRESS", "BROWSER/OS",
				"192.0.2.7", "Firefox on Linux", "Safari on iOS", publicIDs[0], publicIDs[1]}, nil)
			for _, secret := range secrets {
				if strings.Contains(stdout, secret) {
					t.Fatalf("the table shows a secret or storage id:\n%s", stdout)
				}
			}
			if rows := regexp.MustCompile(`(?m)^[0-9a-f]{20} `).FindAllString(stdout, -1); len(rows) != 2 {
				t.Errorf("%d rows:\n%s", len(rows), stdout)
			}
			code, stdout, stderr = runCmd(t, "", "user", "logout", "alice", "--data", dir)
			checkOutput(t, code, stdout, stderr, 0, []string{"2 sessions of alice ended"}, nil)
			code, stdout, stderr = runCmd(t, "", "user", "sessions", "alice", "--data", dir)
			checkOutput(t, code, stdout, stderr, 0, []string{"alice has no sessions"}, nil)
			code, stdout, stderr = runCmd(t, "", "user", "logout", "alice", "--data", dir)
			checkOutput(t, code, stdout, stderr, 0, []string{"alice had no sessions"}, nil)
			code, stdout, stderr = runCmd(t, "", "user", "logout", "nobody", "--data", dir)
			checkOutput(t, code, stdout, stderr, 1, nil, []string{`no user named "nobody"`})
			if p != nil {
				p.stop()
			}
			withStore(t, dir, func(s *model.Store) {
				admin, _ := s.UserByName("admin")
				if ss, _ := s.SessionsOf(admin.ID); len(ss) != 1 {
					t.Errorf("admin has %d sessions, want 1", len(ss))
				}
				n := 0
				for _, e := range auditActors(t, s) {
					if strings.HasPrefix(e, model.EventSessionsEnded+" by cli on ") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d %s events by cli, want 1: %v", n, model.EventSessionsEnded, auditActors(t, s))
				}
			})
		})
	}
}
