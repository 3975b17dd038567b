package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A short paced run through the bare long-poll server delivers every
// message once.
func TestLoadDeliversEverything(t *testing.T) {
	srv := httptest.NewServer(newServer(5 * time.Second))
	defer srv.Close()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"load", "-url", srv.URL, "-pairs", "5", "-messages", "4",
		"-interval", "20ms", "-duration", "30s", "-json"}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	var res result
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	assert.Equal(t, 10, res.Clients)
	assert.Equal(t, int64(40), res.Expected)
	assert.Equal(t, int64(40), res.Sent)
	assert.Equal(t, int64(40), res.Delivered)
	assert.Zero(t, res.Lost)
	assert.Zero(t, res.Duplicated)
	assert.Positive(t, res.LatencyMaxMs)
	assert.LessOrEqual(t, res.LatencyP50Ms, res.LatencyMaxMs)
}

func TestRunUsage(t *testing.T) {
	var out bytes.Buffer
	assert.Error(t, run(context.Background(), nil, &out, &out))
	assert.Error(t, run(context.Background(), []string{"nope"}, &out, &out))
	assert.Error(t, run(context.Background(), []string{"load", "-pairs", "0"}, &out, &out))
}
