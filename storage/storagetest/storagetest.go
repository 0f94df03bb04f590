// Package storagetest prepares the embedded ClickHouse engine for the tests of the packages
// that store events. chDB allows one data directory per process, so a test binary shares one
// and its tests isolate themselves by database name.
package storagetest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bouncehouse/bouncehouse/storage/internal/chdb"
)

// inCI reports whether the tests run in CI, where the engine must be there.
func inCI() bool { return os.Getenv("CI") == "true" }

// Main runs a package's tests with a fresh data directory for the embedded engine, set in
// *dataDir, and returns the exit code for os.Exit. Without the engine the run fails in CI
// (CI=true) and elsewhere says that the tests needing it will skip. The cleanups run after
// the tests, before the directory goes: close there the stores that tests share, since an
// engine still open when the process exits can crash the race detector's shutdown.
func Main(m *testing.M, pkg string, dataDir *string, cleanups ...func()) int {
	if _, err := chdb.LibraryPath(); err != nil {
		if inCI() {
			fmt.Fprintf(os.Stderr, "%s tests need the embedded engine in CI: %v\n", pkg, err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "skipping the %s tests that need the embedded engine: %v\n", pkg, err)
	}
	dir, err := os.MkdirTemp("", "bouncehouse-"+pkg+"-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*dataDir = filepath.Join(dir, "data")
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	return code
}

// RequireEngine skips the test when the embedded engine is not installed, and fails it in CI.
func RequireEngine(tb testing.TB) {
	tb.Helper()
	if _, err := chdb.LibraryPath(); err != nil {
		if inCI() {
			tb.Fatal(err)
		}
		tb.Skip("embedded engine not installed:", err)
	}
}

// CPUTime is the CPU time the process has used so far, user and system, in every thread
// (the embedded engine's and broker's included), for benchmarks that report CPU per event.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
