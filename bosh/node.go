package bosh

import "strings"

// MaxNodeIDLen is the longest node id (Config.SIDPrefix).
const MaxNodeIDLen = 16

// ValidNodeID reports whether id may be a Config.SIDPrefix: 1 to
// MaxNodeIDLen characters a-z, 0-9 and '-', none of which needs escaping
// in XML, in a URL or in a DNS label. The dot that ends the prefix in a sid
// occurs neither in a node id nor in the random part (base64url), so the
// first dot of a sid ends its prefix.
func ValidNodeID(id string) bool {
	if len(id) == 0 || len(id) > MaxNodeIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// SIDPrefixOf returns the node id a sid was made with (Config.SIDPrefix)
// and true, or "" and false when the sid has none: it has no dot, or what
// stands before its first dot is not a valid node id. A sid made without
// a prefix has no dot (its random part is base64url).
func SIDPrefixOf(sid string) (string, bool) {
	id, _, ok := strings.Cut(sid, ".")
	if !ok || !ValidNodeID(id) {
		return "", false
	}
	return id, true
}
