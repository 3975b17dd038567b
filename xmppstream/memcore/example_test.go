package memcore_test

import (
	"context"
	"fmt"

	"github.com/httpbind/httpbind/xmppstream/memcore"
)

// ExampleCore sets up a core with two accounts, as a host does before
// handing it to xmppstream.NewServer.
func ExampleCore() {
	core, err := memcore.New(memcore.Config{Domain: "example.com", Policy: memcore.ReplaceOld})
	if err != nil {
		panic(err)
	}
	for _, u := range []string{"romeo", "Juliet"} {
		if err := core.AddUser(u, "secret"); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(core.Domain(), core.Users())

	creds, err := core.Credentials(context.Background(), "example.com", "juliet")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(creds.Salted["SCRAM-SHA-256"].Iterations)
	// Output:
	// example.com [juliet romeo]
	// 4096
}
