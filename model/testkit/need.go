package testkit

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// installs names, for each program a test may need, how to install it.
// scripts/test-deps.sh, which `make test` runs first, installs them all.
var installs = map[string]string{
	"chromium":            "apt-get install -y chromium",
	"oathtool":            "apt-get install -y oathtool",
	"zbarimg":             "apt-get install -y zbar-tools",
	"certutil":            "apt-get install -y libnss3-tools",
	"pebble":              "go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3",
	"pebble-challtestsrv": "go install github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v2.10.3",
	"go":                  "install Go from https://go.dev/dl/",
}

// Need returns the path of program, which the test cannot do without. It
// looks on $PATH and where `go install` puts programs ($GOBIN, else the
// bin folder of the first GOPATH entry), which need not be on $PATH.
//
// A missing program fails the test, naming how to install it: `make test`
// installs every program first, so there a missing one is a broken setup,
// never a silent skip. Only `go test -short` skips the test instead.
func Need(t testing.TB, program string) string {
	t.Helper()
	if p, ok := find(program, goBin()); ok {
		return p
	}
	how := installs[program]
	if how == "" {
		how = "install it"
	}
	msg := program + " is missing: " + how + " (`make test` installs every test program with scripts/test-deps.sh)"
	if testing.Short() {
		t.Skip(msg + "; skipped because of -short")
	} else {
		t.Fatal(msg + "; `go test -short` skips this test instead")
	}
	return ""
}

// find is the path of the program name: on $PATH, or else in gobin.
func find(name, gobin string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	if gobin == "" {
		return "", false
	}
	p := filepath.Join(gobin, name)
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", false
	}
	return p, true
}

// goBin is where `go install` puts programs: $GOBIN, or else the bin
// folder of the first GOPATH entry; "" when the go tool cannot tell.
// (Read as JSON: the plain output starts with an empty line when GOBIN is
// unset, and trimming it would shift GOPATH into GOBIN's place.)
func goBin() string {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	out, err := exec.Command(goTool, "env", "-json", "GOBIN", "GOPATH").Output()
	if err != nil {
		return ""
	}
	var env struct{ GOBIN, GOPATH string }
	if err := json.Unmarshal(out, &env); err != nil {
		return ""
	}
	if env.GOBIN != "" {
		return env.GOBIN
	}
	if first, _, _ := strings.Cut(env.GOPATH, string(os.PathListSeparator)); first != "" {
		return filepath.Join(first, "bin")
	}
	return ""
}

// Oathtool returns the TOTP code of secret (base32; spaces, as the panel
// shows it, are removed) at time at, computed by oathtool: an independent
// RFC 6238 implementation, so that a shared mistake in our code and its
// tests cannot hide.
func Oathtool(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	bin := Need(t, "oathtool")
	now := at.UTC().Format("2006-01-02 15:04:05") + " UTC"
	out, err := exec.Command(bin, "--totp", "-b", "--now", now, strings.ReplaceAll(secret, " ", "")).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool --totp -b --now %q: %v\n%s", now, err, out)
	}
	code := strings.TrimSpace(string(out))
	if len(code) != 6 {
		t.Fatalf("oathtool printed %q, want 6 digits", code)
	}
	return code
}

// DecodeQR returns what the QR code in the PNG image holds, decoded by
// zbarimg: an independent decoder, so that a code only our own reader
// understands cannot pass.
func DecodeQR(t testing.TB, png []byte) string {
	t.Helper()
	bin := Need(t, "zbarimg")
	f := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(f, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--raw", "-q", f).Output()
	if err != nil {
		t.Fatalf("zbarimg --raw -q: %v (no QR code found?)", err)
	}
	return strings.TrimRight(string(out), "\n")
}
