package scanner

import (
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
)

// utf16Decoder returns a decoder to UTF-8 if head starts text in UTF-16
// (docs/formats.md, "Encoded secrets"): a byte-order mark, or, without one,
// at least 90% of the first 2,048 code units being ASCII text with a zero
// high byte. Nil otherwise. Text in UTF-16 is scanned as its UTF-8 form;
// lines are the same, columns count UTF-8 bytes.
func utf16Decoder(head []byte) *encoding.Decoder {
	if len(head) >= 2 {
		switch {
		case head[0] == 0xff && head[1] == 0xfe && !(len(head) >= 4 && head[2] == 0 && head[3] == 0):
			return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()
		case head[0] == 0xfe && head[1] == 0xff:
			return unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder()
		}
	}
	n := min(len(head), 4096) &^ 1
	if n < 32 {
		return nil
	}
	// Plain text fails both tests within the first tenth: stop there
	// rather than reading all 2,048 units of every file.
	pairs := n / 2
	maxMiss := pairs - (pairs*9+9)/10
	le, be := 0, 0
	for i := 0; i < n; i += 2 {
		a, b := head[i], head[i+1]
		if b == 0 && textByte(a) {
			le++
		} else if a == 0 && textByte(b) {
			be++
		}
		if seen := i/2 + 1; seen-le > maxMiss && seen-be > maxMiss {
			return nil
		}
	}
	switch {
	case le*10 >= pairs*9:
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder()
	case be*10 >= pairs*9:
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder()
	}
	return nil
}

func textByte(c byte) bool { return c >= ' ' && c < 0x7f || c == '\t' || c == '\n' || c == '\r' }
