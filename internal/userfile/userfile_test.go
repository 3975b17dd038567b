package userfile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []string // name=password
		error string
	}{
		{name: "accounts, comments and blank lines", in: "# c\nalice:a\n\n  # indented comment\nbob:b c\n",
			want: []string{"alice=a", "bob=b c"}},
		{name: "password keeps later colons", in: "u:p:q\n", want: []string{"u=p:q"}},
		{name: "CRLF line ends", in: "u:p\r\nv:q\r\n", want: []string{"u=p", "v=q"}},
		{name: "no colon", in: "alice:a\nbob\n", error: "users:2: want name:password"},
		{name: "empty name", in: ":pw\n", error: "users:1: empty name"},
		{name: "empty password", in: "\nalice:\n", error: "users:2: empty password"},
		{name: "repeated name", in: "a:1\nb:2\na:3\n", error: `users:3: "a" already defined on line 1`},
		{name: "no accounts", in: "# nothing\n", error: "users: no accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in), "users")
			if tt.error != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.error)
				return
			}
			require.NoError(t, err)
			var pairs []string
			for _, a := range got {
				pairs = append(pairs, a.Name+"="+a.Password)
			}
			assert.Equal(t, tt.want, pairs)
		})
	}
}
