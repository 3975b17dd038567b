package main

import "flag"

// clusterFlags are the flags of a node among several (package
// bosh/cluster).
type clusterFlags struct {
	nodeID string // -node-id → bosh.Config.SIDPrefix
}

func (c *clusterFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&c.nodeID, "node-id", "", "this node's `id` among several (1 to 16 characters a-z, 0-9 and -), written before every sid it makes")
}
