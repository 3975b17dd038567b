package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "BOSHD_"

// envName is the environment variable of the flag name: BOSHD_ and the
// name in upper case with '-' as '_' (-max-sessions: BOSHD_MAX_SESSIONS).
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// envUsage is the head of boshd -h.
const envUsage = `Usage: boshd [flags]

boshd is a BOSH connection manager (XEP-0124, XEP-0206). Every flag can also
be set by the environment variable BOSHD_<FLAG>: the flag's name in upper
case with '-' as '_' (BOSHD_LISTEN, BOSHD_UPSTREAM, BOSHD_MAX_SESSIONS). A
flag on the command line wins over its variable. A BOSHD_ variable that
names no flag is an error, like an unknown flag.

Flags, each with its variable:
`

// fromEnv are the flags whose value came from the environment: flag name
// → variable name.
type fromEnv map[string]string

// parseArgs parses args into fs, then sets every flag that args did not
// set from its variable in environ ("NAME=value" entries, as os.Environ
// gives them): the command line wins. A value the flag refuses is an error
// that names the variable, as flag.Parse names the flag; so is a BOSHD_
// variable that names no flag. parseArgs also makes fs's usage say all
// this (boshd -h).
func parseArgs(fs *flag.FlagSet, args, environ []string) (fromEnv, error) {
	fs.VisitAll(func(f *flag.Flag) { f.Usage += " [" + envName(f.Name) + "]" })
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), envUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	onCommandLine := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	byVar := make(map[string]*flag.Flag)
	fs.VisitAll(func(f *flag.Flag) { byVar[envName(f.Name)] = f })
	env := make(fromEnv)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		f := byVar[name]
		switch {
		case f == nil:
			return nil, fmt.Errorf("environment variable %s names no flag (see boshd -h)", name)
		case onCommandLine[f.Name]:
			continue
		}
		if err := fs.Set(f.Name, value); err != nil {
			kind := "value"
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				kind = "boolean value"
			}
			return nil, fmt.Errorf("invalid %s %q for %s (flag -%s): %w", kind, value, name, f.Name, err)
		}
		env[f.Name] = name
	}
	return env, nil
}

// annotate adds to err, an error about flags that names them as -name,
// the variables of those among them whose value came from the
// environment; the checks after parsing know only flag names.
func (e fromEnv) annotate(err error) error {
	if err == nil || len(e) == 0 {
		return err
	}
	msg := err.Error()
	var vars []string
	for name, v := range e {
		if mentions(msg, "-"+name) {
			vars = append(vars, fmt.Sprintf("-%s is from %s", name, v))
		}
	}
	if len(vars) == 0 {
		return err
	}
	slices.Sort(vars)
	return fmt.Errorf("%w (%s)", err, strings.Join(vars, ", "))
}

// mentions reports whether msg contains the flag word as a whole word:
// not as part of a longer flag name (-upstream in -upstream-ca).
func mentions(msg, word string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		before := start == 0 || !isNameByte(msg[start-1])
		after := end == len(msg) || !isNameByte(msg[end])
		if before && after {
			return true
		}
		i = end
	}
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
