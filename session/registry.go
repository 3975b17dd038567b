package session

import (
	"hash/maphash"
	"sync"
)

const shards = 64

// Registry finds sessions by sid. It is sharded by a hash of the sid so that
// requests of different sessions do not contend on one lock. The zero
// Registry is ready to use; its methods are safe for concurrent use.
type Registry struct {
	seed   maphash.Seed
	once   sync.Once
	shards [shards]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[string]*Session
}

func (r *Registry) shard(sid string) *shard {
	r.once.Do(func() { r.seed = maphash.MakeSeed() })
	return &r.shards[maphash.String(r.seed, sid)%shards]
}

// Add registers s under its sid. It reports false, and registers nothing,
// when the sid is already taken.
func (r *Registry) Add(s *Session) bool {
	sh := r.shard(s.sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[string]*Session)
	}
	if _, ok := sh.m[s.sid]; ok {
		return false
	}
	sh.m[s.sid] = s
	return true
}

// Get returns the session with the given sid, or nil.
func (r *Registry) Get(sid string) *Session {
	sh := r.shard(sid)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.m[sid]
}

// Remove forgets s, if it is still registered.
func (r *Registry) Remove(s *Session) {
	sh := r.shard(s.sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[s.sid] == s {
		delete(sh.m, s.sid)
	}
}

// Len returns the number of registered sessions.
func (r *Registry) Len() int {
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
func (r *Registry) All() []*Session {
	var out []*Session
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
