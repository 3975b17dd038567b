//go:build !unix

package h2serve

// rawReads says that reader may read a descriptor itself: not here.
const rawReads = false

func readFD(uintptr, []byte) (int, error) { panic("h2serve: no raw reads here") }

func wouldBlock(error) bool { return false }
