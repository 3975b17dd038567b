package proxytest

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
)

// nginxMain is the main configuration around a site: Debian 12's
// /etc/nginx/nginx.conf with its paths moved into the proxy's directory
// and, so that the proxy is one process the test can stop by its id,
// without a master process or daemon (neither changes how requests are
// proxied). Nothing in it sets a proxy_* directive: the site gets nginx's
// defaults for what it does not set itself. %[1]s is the directory.
const nginxMain = `daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events {
	worker_connections 768;
}
http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_prefer_server_ciphers on;
	access_log %[1]s/access.log;
	gzip on;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	include %[1]s/site.conf;
}
`

// Nginx starts Debian's nginx with site, the configuration of a site as it
// would be in /etc/nginx/sites-enabled/ (upstream and server blocks),
// included in the http block of Debian's main configuration (nginxMain).
// site must listen on addr, a loopback address such as FreeAddr gives.
// Nginx returns once it accepts connections; it stops when the test ends.
func Nginx(t testing.TB, addr, site string) *Proxy {
	t.Helper()
	bin := lookup(t, "nginx")
	p := &Proxy{Addr: addr, Dir: t.TempDir(), Config: site, name: "nginx"}
	writeFile(t, p.Dir, "site.conf", site)
	conf := writeFile(t, p.Dir, "nginx.conf", fmt.Sprintf(nginxMain, p.Dir))
	p.logFile = filepath.Join(p.Dir, "error.log")
	// -e: the log of the start-up, before the configuration is read.
	p.start(t, bin, syscall.SIGTERM, "-p", p.Dir, "-c", conf, "-e", p.logFile)
	return p
}

// AccessLog returns nginx's access log (the combined format: one line a
// request, with its status).
func (p *Proxy) AccessLog() string {
	return readFile(filepath.Join(p.Dir, "access.log"))
}
