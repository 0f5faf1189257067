package settings

import "unicode"

// composition is what a text is made of, as the password and answer rules
// count it.
type composition struct {
	runes, letters, upper, digits, spaces int
	// others are the characters that are none of the above: specials,
	// and the control characters among them (controls).
	others, controls int
}

// compose counts the characters of s, calling other with each one that is
// not a letter, digit or space (control says whether it is a control
// character).
func compose(s string, other func(r rune, control bool)) composition {
	var c composition
	for _, r := range s {
		c.runes++
		switch {
		case unicode.IsLetter(r):
			c.letters++
			if unicode.IsUpper(r) {
				c.upper++
			}
		case unicode.IsDigit(r):
			c.digits++
		case unicode.IsSpace(r):
			c.spaces++
		default:
			control := !unicode.IsPrint(r)
			c.others++
			if control {
				c.controls++
			}
			other(r, control)
		}
	}
	return c
}
