package idempotency

// memTable is the memory store's per-shard table: an open-addressing hash
// table whose every part is free of pointers (key bytes in one arena,
// entries in one slice, the index a slice of integers), so a store holding
// millions of keys costs the garbage collector nothing to scan and a new
// key costs no allocation of its own.
type memTable struct {
	// index holds, per position, 0 (empty), 1 (deleted) or the entry's
	// hash tag in the high 32 bits and its number + 2 in the low 32.
	index   []uint64
	entries []memEntry
	free    []uint32 // numbers of unused entries
	keys    []byte   // arena of key bytes
	garbage int      // bytes of keys no longer referenced
	live    int      // entries in use
	used    int      // index positions not empty (live or deleted)
	cursor  int      // next entry the incremental sweep inspects
}

// memEntry is one key: a lease (state leased, token set) or a completion,
// valid until expires (nanoseconds since the store's epoch). An unused entry
// has keyLen 0, since keys are never empty.
type memEntry struct {
	hash    uint64
	keyOff  uint32
	keyLen  uint32
	pos     uint32 // its position in index
	state   entryState
	expires int64
	token   uint64 // the holder's claim number
}

type entryState uint8

const (
	unused entryState = iota
	leased
	completed
)

const (
	emptyPos   = 0
	deletedPos = 1
	minIndex   = 16
)

func (t *memTable) key(e *memEntry) []byte { return t.keys[e.keyOff : e.keyOff+e.keyLen] }

// find returns the entry of key and its index position, or, when key is
// absent, -1 and the position an insert should use.
func (t *memTable) find(key string, hash uint64) (entry int, pos uint32) {
	if len(t.index) == 0 {
		t.resize(minIndex)
	}
	mask := uint64(len(t.index) - 1)
	tag := hash >> 32
	insertAt := -1
	for p := hash & mask; ; p = (p + 1) & mask {
		v := t.index[p]
		switch {
		case v == emptyPos:
			if insertAt < 0 {
				insertAt = int(p)
			}
			return -1, uint32(insertAt)
		case v == deletedPos:
			if insertAt < 0 {
				insertAt = int(p)
			}
		case v>>32 == tag:
			e := int(uint32(v)) - 2
			if t.entries[e].hash == hash && string(t.key(&t.entries[e])) == key {
				return e, uint32(p)
			}
		}
	}
}

// insert adds key at pos (from find) and returns its entry.
func (t *memTable) insert(key string, hash uint64, pos uint32) *memEntry {
	var n uint32
	if k := len(t.free); k > 0 {
		n, t.free = t.free[k-1], t.free[:k-1]
	} else {
		t.entries = append(t.entries, memEntry{})
		n = uint32(len(t.entries) - 1)
	}
	off := len(t.keys)
	t.keys = append(t.keys, key...)
	if t.index[pos] == emptyPos {
		t.used++
	}
	t.index[pos] = hash>>32<<32 | uint64(n+2)
	t.live++
	e := &t.entries[n]
	*e = memEntry{hash: hash, keyOff: uint32(off), keyLen: uint32(len(key)), pos: pos}
	if t.used > len(t.index)/4*3 {
		t.resize(len(t.index))
		e = &t.entries[n]
	}
	return e
}

// remove deletes entry n.
func (t *memTable) remove(n int) {
	e := &t.entries[n]
	t.index[e.pos] = deletedPos
	t.garbage += int(e.keyLen)
	*e = memEntry{}
	t.free = append(t.free, uint32(n))
	t.live--
	if t.garbage > 64<<10 && t.garbage > len(t.keys)/2 {
		t.compactKeys()
	}
}

// resize rebuilds the index for at least size positions, doubling while
// live entries would fill more than half of it; deleted positions vanish.
func (t *memTable) resize(size int) {
	for size < minIndex || t.live*2 > size {
		size *= 2
	}
	t.index = make([]uint64, size)
	t.used = 0
	mask := uint64(size - 1)
	for n := range t.entries {
		e := &t.entries[n]
		if e.keyLen == 0 { // unused (keys are never empty)
			continue
		}
		p := e.hash & mask
		for t.index[p] != emptyPos {
			p = (p + 1) & mask
		}
		t.index[p] = e.hash>>32<<32 | uint64(n+2)
		e.pos = uint32(p)
		t.used++
	}
}

// compactKeys copies the live keys into a fresh arena.
func (t *memTable) compactKeys() {
	keys := make([]byte, 0, len(t.keys)-t.garbage)
	for n := range t.entries {
		e := &t.entries[n]
		if e.keyLen == 0 {
			continue
		}
		off := len(keys)
		keys = append(keys, t.key(e)...)
		e.keyOff = uint32(off)
	}
	t.keys, t.garbage = keys, 0
}

// sweep inspects up to limit entries (all when negative) from the cursor on,
// removing those expired at now, and returns how many it removed. The
// cursor walks the entries in order, so every entry is inspected within
// len(entries)/limit calls.
func (t *memTable) sweep(now int64, limit int) int {
	if limit < 0 || limit > len(t.entries) {
		limit = len(t.entries)
	}
	removed := 0
	for ; limit > 0; limit-- {
		if t.cursor >= len(t.entries) {
			t.cursor = 0
		}
		e := &t.entries[t.cursor]
		if e.keyLen != 0 && now >= e.expires {
			t.remove(t.cursor)
			removed++
		}
		t.cursor++
	}
	return removed
}
