package xmlscan

import (
	"bytes"
	"hash/maphash"
)

// seed keys the hashes of prefixes and attribute names. It is random per
// process so that a peer cannot choose names that collide.
var seed = maphash.MakeSeed()

// minSlots is the initial size of the hash tables; sizes are powers of two.
const minSlots = 16

// prefixSlot maps one prefix to its innermost binding.
type prefixSlot struct {
	prefix []byte
	head   int32  // index in binds of the innermost binding of prefix, -1 when none is in scope
	gen    uint32 // the slot is empty unless gen equals its table's gen
}

// prefixTable is an open-addressing hash table from prefixes to bindings, so
// that resolving a prefix costs the same however many are in scope. Its
// slots carry a generation stamp, so that emptying it costs nothing.
type prefixTable struct {
	slots []prefixSlot
	used  int
	gen   uint32
}

// reset empties t.
func (t *prefixTable) reset() {
	t.used = 0
	t.gen++
	if t.gen == 0 {
		clear(t.slots)
		t.gen = 1
	}
}

// find returns the index of the slot holding p, or of the empty slot where p
// belongs, and whether p is present. t must have at least one empty slot.
func (t *prefixTable) find(p []byte) (int, bool) {
	mask := len(t.slots) - 1
	k := int(maphash.Bytes(seed, p)) & mask
	for {
		sl := &t.slots[k]
		if sl.gen != t.gen {
			return k, false
		}
		if bytes.Equal(sl.prefix, p) {
			return k, true
		}
		k = (k + 1) & mask
	}
}

// lookup returns the index in binds of the innermost binding of p, or -1.
func (t *prefixTable) lookup(p []byte) int32 {
	if t.used == 0 {
		return -1
	}
	k, ok := t.find(p)
	if !ok {
		return -1
	}
	return t.slots[k].head
}

// insert returns the index of the slot of p, adding one with no binding
// when p has none.
func (t *prefixTable) insert(p []byte) int {
	if len(t.slots) > 0 {
		if k, ok := t.find(p); ok {
			return k
		}
	}
	if 2*(t.used+1) > len(t.slots) {
		t.grow()
	}
	k, _ := t.find(p)
	t.slots[k] = prefixSlot{prefix: p, head: -1, gen: t.gen}
	t.used++
	return k
}

// grow doubles the size of t, keeping its entries.
func (t *prefixTable) grow() {
	old := t.slots
	t.slots = make([]prefixSlot, max(minSlots, 2*len(old)))
	for i := range old {
		if old[i].gen == t.gen {
			k, _ := t.find(old[i].prefix)
			t.slots[k] = old[i]
		}
	}
}

// attrSlot is a slot of an attrSet.
type attrSlot struct {
	gen uint32 // the slot is empty unless gen equals its set's gen
	idx int32  // index of an attribute in the slice being checked
}

// attrSet finds duplicate expanded names among many attributes in linear
// time. Its slots carry a generation stamp, so that emptying it costs
// nothing.
type attrSet struct {
	slots []attrSlot
	gen   uint32
}

// firstDup returns the index of the first attribute in attrs whose expanded
// name an earlier one has, or -1.
func (t *attrSet) firstDup(attrs []rawAttr) int {
	size := minSlots
	for size < 2*len(attrs) {
		size *= 2
	}
	if len(t.slots) < size {
		t.slots = make([]attrSlot, size)
		t.gen = 0
	}
	t.gen++
	if t.gen == 0 {
		clear(t.slots)
		t.gen = 1
	}
	slots, mask := t.slots[:size], size-1
	for i := range attrs {
		a := &attrs[i]
		k := int(maphash.Bytes(seed, a.local)*31+maphash.Bytes(seed, a.space)) & mask
		for {
			sl := &slots[k]
			if sl.gen != t.gen {
				*sl = attrSlot{gen: t.gen, idx: int32(i)}
				break
			}
			if sameName(&attrs[sl.idx], a) {
				return i
			}
			k = (k + 1) & mask
		}
	}
	return -1
}
