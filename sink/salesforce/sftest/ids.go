package sftest

import (
	"strings"
	"sync/atomic"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// idSuffix computes the three-character case-safety suffix Salesforce appends
// to a 15-character Id: each 5-character chunk contributes one character whose
// bits mark which positions hold an upper-case letter.
func idSuffix(id15 string) string {
	var out [3]byte
	suffixInto(out[:], id15)
	return string(out[:])
}

func suffixInto[T string | []byte](out []byte, id15 T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	for chunk := 0; chunk < 3; chunk++ {
		n := 0
		for i := 0; i < 5; i++ {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				n |= 1 << i
			}
		}
		out[chunk] = alphabet[n]
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// normalizeID turns a 15- or 18-character Id into its canonical 18-character
// form. An 18-character Id whose first 15 characters were case-mangled (as
// spreadsheets do) is repaired from its suffix, as Salesforce does.
func normalizeID(s string) (string, bool) {
	switch len(s) {
	case 15:
		for i := 0; i < 15; i++ {
			if !isAlnum(s[i]) {
				return "", false
			}
		}
		return s + idSuffix(s), true
	case 18:
		for i := 0; i < 18; i++ {
			if !isAlnum(s[i]) {
				return "", false
			}
		}
		if idSuffix(s[:15]) == s[15:] {
			return s, true
		}
		// Rebuild the case of the first 15 characters from the suffix bits.
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
		b := []byte(strings.ToLower(s[:15]))
		for chunk := 0; chunk < 3; chunk++ {
			n := strings.IndexByte(alphabet, upper(s[15+chunk]))
			if n < 0 {
				return "", false
			}
			for i := 0; i < 5; i++ {
				if n&(1<<i) != 0 {
					c := b[chunk*5+i]
					if c >= 'a' && c <= 'z' {
						b[chunk*5+i] = c - 'a' + 'A'
					} else {
						return "", false
					}
				}
			}
		}
		id := string(b)
		return id + idSuffix(id), true
	}
	return "", false
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// idGen hands out Ids. One counter serves every object so two objects that
// share a key prefix can never collide.
type idGen struct{ n atomic.Uint64 }

// next returns an 18-character Id: 3-character key prefix, a fixed pod
// segment, and a 9-digit base62 counter.
func (g *idGen) next(prefix string) string {
	n := g.n.Add(1)
	var b [18]byte
	copy(b[:3], prefix)
	b[3], b[4], b[5] = '5', 'g', '0'
	for i := 14; i >= 6; i-- {
		b[i] = base62[n%62]
		n /= 62
	}
	suffixInto(b[15:], b[:15])
	return string(b[:])
}

// isID reports whether s is a 15- or 18-character Id.
func isID(s string) bool {
	_, ok := normalizeID(s)
	return ok
}
