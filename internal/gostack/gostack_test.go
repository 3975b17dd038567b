package gostack

import (
	"testing"
	"unsafe"
)

// deep recurses n frames of about 1 KB each.
//
//go:noinline
func deep(n int) byte {
	var b [1 << 10]byte
	if n == 0 {
		return b[0]
	}
	b[n%len(b)] = byte(n)
	return deep(n-1) + b[(n+1)%len(b)]
}

// BenchmarkDeepGoroutine starts goroutines that run 5 KB deep, with and
// without Grow first: the stack copies that Grow saves show as time.
func BenchmarkDeepGoroutine(b *testing.B) {
	for _, tc := range []struct {
		name string
		grow bool
	}{{"grown", true}, {"doubling", false}} {
		b.Run(tc.name, func(b *testing.B) {
			done := make(chan struct{})
			for b.Loop() {
				go func() {
					if tc.grow {
						Grow()
					}
					deep(5)
					done <- struct{}{}
				}()
				<-done
			}
		})
	}
}

// After Grow, a goroutine's stack has room for a 5 KB deep call: the
// call does not move the stack (Go moves a stack to grow it), where
// without Grow it does.
func TestGrow(t *testing.T) {
	moves := func(grow bool) bool {
		res := make(chan bool)
		go func() {
			var x byte
			if grow {
				Grow()
			}
			before := uintptr(unsafe.Pointer(&x))
			deep(5)
			res <- uintptr(unsafe.Pointer(&x)) != before
		}()
		return <-res
	}
	if !moves(false) {
		t.Skip("goroutines start with room for the call here: nothing to show")
	}
	if moves(true) {
		t.Fatal("the stack moved after Grow: it had not grown enough")
	}
}
