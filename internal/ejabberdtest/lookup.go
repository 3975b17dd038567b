package ejabberdtest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/httpbind/httpbind/internal/prosodytest"
)

// install is where the ejabberd package put its Erlang node.
type install struct {
	erl  string // the erl executable
	libs string // ERL_LIBS: the directory holding ejabberd and its dependencies
}

// Lookup returns the installation of Debian's ejabberd package: the erl
// executable and the ERL_LIBS its ejabberdctl uses. When ejabberd is not
// installed, the test is skipped, or fails when CI is true: the project's
// own files install ejabberd there (make deps), so a missing one is a
// broken setup, not a reason to pass.
func Lookup(t testing.TB) (erl, libs string) {
	t.Helper()
	in, err := lookup()
	if err == nil {
		return in.erl, in.libs
	}
	if prosodytest.InCI() {
		t.Fatalf("ejabberdtest: ejabberd is not installed (%v); CI=true requires it: run make deps", err)
	}
	t.Skipf("ejabberdtest: ejabberd is not installed (%v); skipped outside CI", err)
	return "", ""
}

// lookup reads ERL and ERL_LIBS from the package's ejabberdctl script,
// which is where Debian records them.
func lookup() (install, error) {
	ctl, err := exec.LookPath("ejabberdctl")
	if err != nil {
		// Debian puts it in /usr/sbin, which a user's PATH may lack.
		if _, serr := os.Stat("/usr/sbin/ejabberdctl"); serr != nil {
			return install{}, err
		}
		ctl = "/usr/sbin/ejabberdctl"
	}
	f, err := os.Open(ctl)
	if err != nil {
		return install{}, err
	}
	defer f.Close()
	in := install{erl: "erl"}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "ERL_LIBS="); ok {
			in.libs = strings.Trim(v, `'"`)
		}
		if v, ok := strings.CutPrefix(line, "ERL="); ok {
			in.erl = strings.Trim(v, `'"`)
		}
	}
	if in.libs == "" {
		return install{}, &os.PathError{Op: "read ERL_LIBS from", Path: ctl, Err: os.ErrNotExist}
	}
	if in.erl, err = exec.LookPath(in.erl); err != nil {
		return install{}, err
	}
	matches, _ := filepath.Glob(filepath.Join(in.libs, "ejabberd-*", "ebin", "ejabberd.app"))
	if len(matches) == 0 {
		return install{}, &os.PathError{Op: "find ejabberd.app in", Path: in.libs, Err: os.ErrNotExist}
	}
	return in, nil
}
