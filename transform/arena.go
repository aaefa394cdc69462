package transform

import "unsafe"

// arenaChunk is the size of the byte chunks formatted values are cut from.
// A record keeps its chunk alive, so it is small enough that a few retained
// records do not pin much memory, and large enough to amortise the
// allocation over about a hundred rows.
const arenaChunk = 8 << 10

// arena hands out strings formatted into shared byte chunks, so that
// formatting a number or a date does not cost an allocation per value.
//
// Bytes are only ever appended past the end of what was handed out and
// never rewritten, which is what makes the unsafe.String views immutable.
type arena struct {
	buf []byte
}

// free returns an empty slice into the unused part of the current chunk
// with room for at least n bytes. Values larger than a quarter of a chunk
// get a buffer of their own, so a big value does not waste a chunk.
func (a *arena) free(n int) []byte {
	if n > arenaChunk/4 {
		return make([]byte, 0, n)
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, arenaChunk)
	}
	return a.buf[len(a.buf):len(a.buf):cap(a.buf)]
}

// commit turns b, which was appended to a slice from free, into a string.
// When b still lives in the current chunk the chunk's length moves past it;
// when an append outgrew its room, b is a fresh array owned by the string.
func (a *arena) commit(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	rest := a.buf[len(a.buf):cap(a.buf)]
	if len(rest) >= len(b) && unsafe.SliceData(rest) == unsafe.SliceData(b) {
		a.buf = a.buf[:len(a.buf)+len(b)]
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
