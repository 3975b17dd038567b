// Package memstat measures what idle objects cost a Go program, for the
// benchmarks that count bytes per idle session or stream: the memory
// statistics and goroutines after a full collection, and a heap profile
// to say what the bytes are.
//
// Layer: internal benchmark support; it imports only the standard
// library, and only benchmarks import it.
package memstat

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// Snapshot is the runtime's memory statistics and goroutine count at one
// moment.
type Snapshot struct {
	runtime.MemStats
	Goroutines int
}

// Take collects garbage twice (the second collection frees what the
// first one's finalizers released) and returns a Snapshot.
func Take() Snapshot {
	runtime.GC()
	runtime.GC()
	var s Snapshot
	runtime.ReadMemStats(&s.MemStats)
	s.Goroutines = runtime.NumGoroutine()
	return s
}

// Per returns (after - before) / n, for a figure per object.
func Per(after, before uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}

// Profile sets the heap profile's sampling to one sample per rate bytes
// and returns the function that restores the default; call it before the
// objects are made.
func Profile(rate int) (restore func()) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = rate
	return func() { runtime.MemProfileRate = old }
}

// WriteHeapProfile writes the heap profile of the objects in use to path
// (read it with go tool pprof -sample_index=inuse_space).
func WriteHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
