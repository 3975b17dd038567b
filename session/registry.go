package session

import (
	"hash/maphash"
	"sync"
)

const shards = 64

// Registry finds sessions by sid: values of S, a *Session or a type of the
// caller's that carries one with what it keeps per session (package bosh
// keeps the response settings beside each). It is sharded by a hash of the
// sid so that requests of different sessions do not contend on one lock.
// The zero Registry is ready to use; its methods are safe for concurrent
// use.
type Registry[S interface {
	comparable
	SID() string
}] struct {
	seed   maphash.Seed
	once   sync.Once
	shards [shards]shard[S]
}

type shard[S comparable] struct {
	mu sync.RWMutex
	m  map[string]S
}

func (r *Registry[S]) shard(sid string) *shard[S] {
	r.once.Do(func() { r.seed = maphash.MakeSeed() })
	return &r.shards[maphash.String(r.seed, sid)%shards]
}

// Add registers s under its sid. It reports false, and registers nothing,
// when the sid is already taken.
func (r *Registry[S]) Add(s S) bool {
	sid := s.SID()
	sh := r.shard(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[string]S)
	}
	if _, ok := sh.m[sid]; ok {
		return false
	}
	sh.m[sid] = s
	return true
}

// Get returns the session with the given sid, and whether there is one.
func (r *Registry[S]) Get(sid string) (S, bool) {
	sh := r.shard(sid)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	s, ok := sh.m[sid]
	return s, ok
}

// Remove forgets s, if it is still registered.
func (r *Registry[S]) Remove(s S) {
	sid := s.SID()
	sh := r.shard(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[sid] == s {
		delete(sh.m, sid)
	}
}

// Len returns the number of registered sessions.
func (r *Registry[S]) Len() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// All returns a snapshot of the registered sessions.
func (r *Registry[S]) All() []S {
	var out []S
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for _, s := range sh.m {
			out = append(out, s)
		}
		sh.mu.RUnlock()
	}
	return out
}
