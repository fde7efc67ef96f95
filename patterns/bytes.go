package patterns

import "bytes"

func bytesIndex(b []byte, s string) int { return bytes.Index(b, []byte(s)) }
