package cluster_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
)

// A node of three mounts the cluster handler where it would mount its
// bosh.Handler, and serves h2c so that the other nodes' forwards share a
// connection.
func ExampleNew() {
	peers, err := cluster.ParsePeers("n1=http://10.0.0.1:5280,n2=http://10.0.0.2:5280,n3=http://10.0.0.3:5280")
	if err != nil {
		panic(err)
	}
	members, err := cluster.NewStatic("n2", peers)
	if err != nil {
		panic(err)
	}
	h, err := bosh.NewHandler(echo, bosh.Config{
		SIDPrefix:      "n2",                    // every sid says its owner: "n2.…"
		TrustedProxies: []string{"10.0.0.0/24"}, // the other nodes and the load balancer
	})
	if err != nil {
		panic(err)
	}
	c, err := cluster.New(h, cluster.Config{Membership: members})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/http-bind", c)
	srv := &http.Server{Addr: "10.0.0.2:5280", Handler: mux, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	// go srv.ListenAndServe()

	// To leave: drain, then end what is left with system-shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), bosh.DefaultDrainTimeout)
	defer cancel()
	fmt.Println(h.Drain(ctx), h.Ready())
	h.Shutdown(context.Background())
	// Output: <nil> bosh: draining
}
