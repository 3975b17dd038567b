package main

import "html/template"

// loginPage is the form at /. Field names "user" and "password" and the
// submit button are stable: browser tests fill them.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>webchat: log in</title>
<style>
body { font-family: sans-serif; max-width: 22em; margin: 4em auto; }
label { display: block; margin: .8em 0 .2em; }
input { width: 100%; padding: .4em; box-sizing: border-box; }
button { margin-top: 1em; padding: .4em 1.2em; }
.error { color: #b00; }
</style>
</head>
<body>
<h1>webchat</h1>
{{if .Error}}<p class="error" id="login-error">{{.Error}}</p>{{end}}
<form method="post" action="/">
<label for="user">User</label>
<input id="user" name="user" autocomplete="username" value="{{.User}}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form>
</body>
</html>
`))

// chatPage loads converse.js from /assets and lets it attach to the
// session /prebind creates for the logged-in user (converse.js's
// authentication: 'prebind'). keepalive is off: every load of the page
// prebinds a fresh session rather than restoring one from sessionStorage.
var chatPage = template.Must(template.New("chat").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>webchat: {{.JID}}</title>
<link rel="stylesheet" href="/assets/converse.min.css">
<script>
window.converseLoaded = new Promise((resolve) => window.addEventListener("converse-loaded", resolve, { once: true }));
</script>
<script type="module" src="/assets/converse.min.js"></script>
</head>
<body class="converse-fullscreen">
<form method="post" action="/logout" style="position: fixed; top: 0; right: 0; z-index: 10000; margin: 0">
<button type="submit" id="logout">Log out {{.User}}</button>
</form>
<script>
"use strict";
(async () => {
  if (!window.converse) await window.converseLoaded;
  converse.initialize({
    authentication: "prebind",
    prebind_url: "/prebind",
    bosh_service_url: "/http-bind",
    jid: {{.JID}},
    auto_login: true,
    keepalive: false,
    discover_connection_methods: false,
    view_mode: "fullscreen",
    assets_path: "/assets",
    allow_non_roster_messaging: true,
    play_sounds: false,
    show_client_info: false,
    loglevel: "info",
  });
})();
</script>
</body>
</html>
`))

// missingAssetsPage answers /assets/ when the -assets directory is
// missing.
var missingAssetsPage = template.Must(template.New("assets").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>webchat: converse.js is missing</title></head>
<body>
<h1>converse.js is missing</h1>
<p>The directory {{.}} does not exist. Install converse.js with:</p>
<pre>npm ci --prefix examples/webchat</pre>
<p>then start webchat again, or point -assets at converse.js's dist directory.</p>
</body>
</html>
`))
