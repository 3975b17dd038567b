// Package userfile reads the account files of the example programs
// (boshd -users, webchat -users): one "name:password" a line.
package userfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Account is one account of a file.
type Account struct {
	Name, Password string
	Where          string // "file:line", to name the account in errors
}

// Load reads the account file at path.
func Load(path string) ([]Account, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads accounts, one "name:password" a line; the password is
// everything after the first colon. Leading and trailing white space of a
// line is ignored; blank lines and lines starting with '#' are skipped. A
// malformed line or a repeated name is an error naming the line; file
// names r in errors.
func Parse(r io.Reader, file string) ([]Account, error) {
	var out []Account
	seen := make(map[string]int)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d", file, n)
		name, password, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: want name:password", where)
		case name == "":
			return nil, fmt.Errorf("%s: empty name", where)
		case password == "":
			return nil, fmt.Errorf("%s: empty password for %q", where, name)
		case seen[name] > 0:
			return nil, fmt.Errorf("%s: %q already defined on line %d", where, name, seen[name])
		}
		seen[name] = n
		out = append(out, Account{Name: name, Password: password, Where: where})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(out) == 0 {
		return nil, errors.New(file + ": no accounts")
	}
	return out, nil
}
