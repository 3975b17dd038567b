package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndpointPage: opening boshd's BOSH URL in Chromium shows the
// endpoint page: what the URL is (XEP-0124, XEP-0206), the domain served,
// the version, and the URL to give Strophe.js and converse.js, styled
// under its own Content-Security-Policy and without a script. A GET with
// a query (script syntax, XEP-0252) still gets the BOSH error. The
// screenshot is kept in artifacts/endpoint-page.png.
func TestEndpointPage(t *testing.T) {
	cfg := newConfig(t, "localhost", "alice")
	startBoshd(t, cfg)
	var res struct {
		Status        int
		ContentType   string
		Title         string
		Heading       string
		What          string
		Domains       []string
		URL           string
		Strophe       string
		Converse      string
		Version       string
		FontFamily    string
		Scripts       int
		ConsoleErrors []string
		Screenshot    string
		ScriptSyntax  struct {
			Status int
			Body   string
		}
	}
	runScenario(t, "endpoint-page", cfg, &res)
	require.Equal(t, 200, res.Status)
	assert.Equal(t, "text/html; charset=utf-8", res.ContentType)
	assert.Equal(t, "BOSH endpoint", res.Title)
	assert.Equal(t, "BOSH endpoint", res.Heading)
	assert.Contains(t, res.What, "XEP-0124")
	assert.Contains(t, res.What, "XEP-0206")
	assert.Equal(t, []string{"localhost"}, res.Domains)
	assert.Equal(t, cfg.BOSH, res.URL)
	assert.Contains(t, res.Strophe, `new Strophe.Connection("`+cfg.BOSH+`")`)
	assert.Contains(t, res.Strophe, `"user@" + "localhost"`)
	assert.Contains(t, res.Converse, `bosh_service_url: "`+cfg.BOSH+`"`)
	assert.Regexp(t, `^httpbind \S+.*, go1\.`, res.Version)
	assert.Contains(t, res.FontFamily, "system-ui", "the page's style applies under its policy")
	assert.Zero(t, res.Scripts)
	assert.Empty(t, res.ConsoleErrors, "no policy violation, nothing refused")
	assert.FileExists(t, res.Screenshot)
	t.Logf("screenshot: %s", res.Screenshot)

	assert.Equal(t, 405, res.ScriptSyntax.Status)
	assert.Contains(t, res.ScriptSyntax.Body, "type='terminate'")
	assert.Contains(t, res.ScriptSyntax.Body, "condition='bad-request'")
}
