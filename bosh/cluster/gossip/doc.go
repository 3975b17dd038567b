// Package gossip is a cluster.Membership learned by gossip with
// github.com/hashicorp/memberlist (SWIM): nodes find each other from one
// or more known addresses (Config.Join) and tell each other their BOSH
// URL, whether they drain and how many sessions they have.
//
// Layer: above bosh/cluster, whose Membership it implements; it lives in
// its own package so that hosts using a static or DNS membership do not
// import memberlist. Start at New; a host calls Update when its state
// changes (a drain begins) and Leave before it exits, so that the others
// know its sessions are gone (item-not-found, XEP-0124 §17.2) rather than
// suspect (HTTP 503).
package gossip
