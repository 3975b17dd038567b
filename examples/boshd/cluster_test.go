package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseFlagsCluster(t *testing.T) {
	runFlagCases(t, []flagCase{
		{name: "a node id becomes the sid prefix", args: []string{"-node-id", "n2"},
			check: func(t *testing.T, o *options) { assert.Equal(t, "n2", o.handlerConfig().SIDPrefix) }},
		{name: "no node id by default", args: nil,
			check: func(t *testing.T, o *options) { assert.Empty(t, o.handlerConfig().SIDPrefix) }},
		{name: "a node id bosh.Config refuses is named by its flag", args: []string{"-node-id", "N 2"},
			error: `-node-id "N 2": want 1 to 16 characters a-z, 0-9 and -`},
	})
}
