package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// TestParseServeAuditRetention: --audit-retention / GATEHOUSE_AUDIT_RETENTION
// take a duration or whole days; the default is one year.
func TestParseServeAuditRetention(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args    []string
		env     string
		want    time.Duration
		wantErr string
	}{
		{want: model.DefaultAuditRetention},
		{args: []string{"--audit-retention", "30d"}, want: 30 * 24 * time.Hour},
		{env: "48h", want: 48 * time.Hour},
		{args: []string{"--audit-retention", "2h"}, env: "48h", want: 2 * time.Hour},
		{args: []string{"--audit-retention", "0d"}, wantErr: `--audit-retention "0d": want a positive duration such as 8760h or 365d`},
		{env: "forever", wantErr: `--audit-retention "forever": want a positive duration`},
	} {
		getenv := func(k string) string {
			if k == "GATEHOUSE_AUDIT_RETENTION" {
				return tc.env
			}
			return ""
		}
		c, err := parseServe(append([]string{"--data", dir}, tc.args...), getenv)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v env %q: err = %v, want %q", tc.args, tc.env, err, tc.wantErr)
			}
		case err != nil || c.AuditRetention != tc.want:
			t.Errorf("%v env %q: %v, %v; want %v", tc.args, tc.env, c.AuditRetention, err, tc.want)
		}
	}
}

// TestBinaryKillLosesAtMostOneSecondOfAudit (#12): failed logins at a
// steady rate, then SIGKILL. The buffered audit is written at least every
// second, so after a restart every failure that was answered more than a
// second (plus a margin for scheduling) before the kill is in the log.
func TestBinaryKillLosesAtMostOneSecondOfAudit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const (
		every  = 25 * time.Millisecond // 40 failed logins a second
		runFor = 4 * time.Second
		window = time.Second            // the most a crash may lose
		margin = 500 * time.Millisecond // scheduling, the flush's own time
	)
	p := startFreshPanel(t)
	bin, data, addr, serve, admin := p.bin, p.data, p.addr, p.serve, p.adminToken

	// Each attempt from its own address and under its own unknown name,
	// so that no limit refuses it before the password check.
	var mu sync.Mutex
	var answered []time.Time // of each 401
	var sent int
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tick := time.NewTicker(every)
	end := time.Now().Add(runFor)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 2, byte(i/250), byte(i%250+1))}}
			c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
			form := url.Values{"username": {fmt.Sprintf("ghost%d", i)}, "password": {"wrong-pass-1"}}
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := c.Do(req)
			if err != nil {
				return // killed
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				mu.Lock()
				answered = append(answered, time.Now())
				mu.Unlock()
			}
		}()
	}
	tick.Stop()
	serve.Kill(t) // with attempts in flight
	killed := time.Now()
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	var recent int // answered within window+margin of the kill
	for _, at := range answered {
		if killed.Sub(at) <= window+margin {
			recent++
		}
	}

	addr = freeAddr(t)
	serveBinary(t, bin, data, addr, "http://"+addr+"/healthz")
	c := newAPIClient(t, "http://"+addr, "")
	stored := 0
	for page := 1; ; page++ {
		status, out, err := c.call(context.Background(), "GET", fmt.Sprintf("/api/v1/audit?event=login.failed&per_page=500&page=%d", page), admin, nil)
		if err != nil || status != 200 {
			t.Fatalf("audit after the restart: %d %v %v", status, out, err)
		}
		items := out["items"].([]any)
		for _, it := range items {
			stored += int(it.(map[string]any)["count"].(float64))
		}
		if len(items) < 500 {
			break
		}
	}
	lost := len(answered) - stored
	t.Logf("%d failed logins sent in %v, %d answered 401 before the kill, %d stored after the restart: %d lost; %d answered in the last %v",
		sent, runFor, len(answered), stored, max(lost, 0), recent, window+margin)
	if len(answered) < 10 {
		t.Fatalf("only %d failed logins answered: too few to measure", len(answered))
	}
	if lost > recent {
		t.Errorf("%d answered failed logins lost, more than the %d answered in the last %v before the kill", lost, recent, window+margin)
	}
	if stored > sent {
		t.Errorf("%d failed logins stored, more than the %d sent", stored, sent)
	}
}
