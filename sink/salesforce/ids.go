package salesforce

// toID18 returns the 18-character form of a 15- or 18-character Salesforce
// Id; other strings are returned unchanged. The three extra characters
// encode which of the first 15 are upper case, five per character, so that
// Ids compare equal without regard to case.
func toID18(id string) string {
	if len(id) == 18 {
		return id
	}
	if len(id) != 15 {
		return id
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	suffix := make([]byte, 3)
	for block := 0; block < 3; block++ {
		bits := 0
		for i := 0; i < 5; i++ {
			c := id[block*5+i]
			switch {
			case c >= 'A' && c <= 'Z':
				bits |= 1 << i
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			default:
				return id
			}
		}
		suffix[block] = alphabet[bits]
	}
	return id + string(suffix)
}
