package prosodytest

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// InCI reports whether the environment variable CI is set to a true value
// ("true", "1", ...), as CI systems do: a missing part of the test setup
// then fails a test instead of skipping it.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Lookup returns the path of the prosody executable. When it is not
// installed, the test is skipped, or fails when CI is true: the project's
// own files install Prosody there (make deps), so a missing one is a
// broken setup, not a reason to pass.
func Lookup(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("prosody")
	if err == nil {
		return path
	}
	if InCI() {
		t.Fatalf("prosodytest: prosody is not installed (%v); CI=true requires it: run make deps", err)
	}
	t.Skipf("prosodytest: prosody is not installed (%v); skipped outside CI", err)
	return ""
}
