package testkit

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNeedFindsGoInstalledPrograms: a program that `go install` put in
// GOPATH's bin folder is found without being on $PATH, also when GOBIN is
// unset (scripts/test-deps.sh installs Pebble there).
func TestNeedFindsGoInstalledPrograms(t *testing.T) {
	goTool := Need(t, "go")
	gopath := t.TempDir()
	prog := filepath.Join(gopath, "bin", "gatehouse-test-tool")
	if err := os.MkdirAll(filepath.Dir(prog), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", filepath.Dir(goTool))
	t.Setenv("GOPATH", gopath+string(os.PathListSeparator)+t.TempDir())
	t.Setenv("GOBIN", "")
	if got := Need(t, "gatehouse-test-tool"); got != prog {
		t.Errorf("found %q, want %s", got, prog)
	}
	if got, ok := find("gatehouse-no-such-tool", goBin()); ok {
		t.Errorf("found a program that does not exist: %s", got)
	}
	gobin := t.TempDir()
	t.Setenv("GOBIN", gobin)
	if got := goBin(); got != gobin {
		t.Errorf("with GOBIN set, programs are looked for in %q, want %s", got, gobin)
	}
}

// recorder is a test that records what Need does to it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skip(args ...any)  { r.skip = fmt.Sprint(args...) }

// TestNeedMissingProgram: a missing program fails the test with a message
// naming how to install it; only -short turns that into a skip.
func TestNeedMissingProgram(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no oathtool here, and no go tool to name GOBIN

	r := &recorder{TB: t}
	Need(r, "oathtool")
	if r.skip != "" || !strings.Contains(r.fatal, "oathtool is missing: apt-get install -y oathtool") ||
		!strings.Contains(r.fatal, "make test") || !strings.Contains(r.fatal, "-short") {
		t.Errorf("without -short: fatal %q, skip %q", r.fatal, r.skip)
	}

	short := flag.Lookup("test.short").Value
	old := short.String()
	if err := short.Set("true"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = short.Set(old) })
	r = &recorder{TB: t}
	Need(r, "pebble")
	if r.fatal != "" || !strings.Contains(r.skip, "pebble is missing: go install github.com/letsencrypt/pebble/v2/cmd/pebble@") {
		t.Errorf("with -short: fatal %q, skip %q", r.fatal, r.skip)
	}
}

// TestOathtool: oathtool's code for a time is the one RFC 6238 gives.
func TestOathtool(t *testing.T) {
	t.Parallel()
	// RFC 6238 Appendix B, SHA-1, T = 59: 94287082; six digits are its tail.
	secret := "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // base32 of "12345678901234567890"
	if got := Oathtool(t, secret, time.Unix(59, 0)); got != "287082" {
		t.Errorf("code %s, want 287082", got)
	}
}

// TestClock: the clock moves only when told, is safe for concurrent use,
// and Now does not allocate (so not parallel: AllocsPerRun refuses).
func TestClock(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	c := ClockAt(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(start.Add(8 * time.Second)) {
		t.Errorf("Now = %v, want %v", got, start.Add(8*time.Second))
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Errorf("after Set: %v", c.Now())
	}
	if now := NewClock().Now(); time.Since(now) < 0 || time.Since(now) > time.Minute+time.Second || now.Location() != time.UTC {
		t.Errorf("NewClock starts at %v, want the current minute in UTC", now)
	}
	if n := testing.AllocsPerRun(100, func() { _ = c.Now() }); n != 0 {
		t.Errorf("Now allocates %v times", n)
	}
}

// TestProc: a started program's output is collected, Stop ends it with
// SIGTERM, and Kill with SIGKILL.
func TestProc(t *testing.T) {
	t.Parallel()
	sh := Need(t, "sh")
	p := Start(t, "sh", []string{"GATEHOUSE_TESTKIT=1"}, sh, "-c", `echo "out $GATEHOUSE_TESTKIT"; echo err >&2; trap 'exit 0' TERM; while :; do sleep 0.05; done`)
	p.WaitLog(t, "err", 5*time.Second)
	p.WaitLog(t, "out 1", 5*time.Second)
	if err := p.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if p.Running() || p.Stdout.String() != "out 1\n" || p.Stderr.String() != "err\n" {
		t.Errorf("running %v, stdout %q, stderr %q", p.Running(), p.Stdout.String(), p.Stderr.String())
	}
	q := Start(t, "sh", nil, sh, "-c", "while :; do sleep 0.05; done")
	q.Kill(t)
	if q.Err() == nil {
		t.Error("a killed program reports no error")
	}
}

// TestEnv: the programs a test starts see neither the machine's
// GATEHOUSE_* settings nor its proxies.
func TestEnv(t *testing.T) {
	t.Setenv("GATEHOUSE_DATA", "/nowhere")
	t.Setenv("https_proxy", "http://proxy.invalid")
	t.Setenv("LANG", "C")
	env := strings.Join(Env(), "\n")
	if strings.Contains(env, "GATEHOUSE_") || strings.Contains(env, "https_proxy=") || !strings.Contains(env, "LANG=C") {
		t.Errorf("Env:\n%s", env)
	}
}
