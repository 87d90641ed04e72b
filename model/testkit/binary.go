package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// mainPackage is the gatehouse command, named by its import path so that
// the tests of any package can build it.
const mainPackage = "github.com/gatehouse-panel/gatehouse"

// binary is the gatehouse binary of this test process: built by the first
// test that asks, shared by the rest, removed by Main.
var binary struct {
	mu    sync.Mutex
	main  bool   // Main runs the tests
	dir   string // holds the binary
	path  string
	built bool
	err   error
}

// Main runs the tests of a package whose tests call Binary, and removes the
// binary when they end. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testkit.Main(m) }
func Main(m *testing.M) {
	binary.mu.Lock()
	binary.main = true
	binary.mu.Unlock()
	code := m.Run()
	binary.mu.Lock()
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir)
	}
	binary.mu.Unlock()
	os.Exit(code)
}

// Binary returns the gatehouse binary, built as `make build` builds it
// (CGO off) once per test process: the tests of a package share it. A
// failed build fails every test that asks.
func Binary(t testing.TB) string {
	t.Helper()
	goTool := Need(t, "go")
	binary.mu.Lock()
	defer binary.mu.Unlock()
	if !binary.main {
		t.Fatal("testkit.Binary needs testkit.Main: add func TestMain(m *testing.M) { testkit.Main(m) } to the package's tests")
	}
	if !binary.built {
		binary.built = true
		binary.path, binary.err = build(goTool)
	}
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// build builds the gatehouse command into a new temporary directory.
func build(goTool string) (string, error) {
	dir, err := os.MkdirTemp("", "gatehouse-test-bin-")
	if err != nil {
		return "", fmt.Errorf("testkit: directory for the binary: %w", err)
	}
	binary.dir = dir
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command(goTool, "build", "-o", bin, mainPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testkit: go build %s: %w\n%s", mainPackage, err, out)
	}
	return bin, nil
}
