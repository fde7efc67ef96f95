package gitscan

import (
	"errors"
	"fmt"
)

// applyDelta builds an object from its delta base and a git delta
// (gitformat-pack, "Deltified representation"). Hand-written rather than
// go-git's packfile.PatchDelta because that one grows a bytes.Buffer as it
// goes: here the target size from the delta's header sizes the output once,
// and a target past max is refused before anything is allocated. On
// terraform's history, growing and copying was 1.6 s of the 2.6 s spent
// applying deltas.
func applyDelta(base, delta []byte, max int64) ([]byte, error) {
	srcSize, delta, err := deltaSize(delta)
	if err != nil {
		return nil, err
	}
	if srcSize != uint64(len(base)) {
		return nil, fmt.Errorf("delta base is %d bytes, the delta expects %d", len(base), srcSize)
	}
	dstSize, delta, err := deltaSize(delta)
	if err != nil {
		return nil, err
	}
	if dstSize > uint64(max) {
		return nil, fmt.Errorf("object larger than %d bytes", max)
	}
	out := make([]byte, 0, dstSize)
	for len(delta) > 0 {
		op := delta[0]
		delta = delta[1:]
		switch {
		case op&0x80 != 0: // copy from the base
			off, rest, ok := copyField(op, 0, 4, delta)
			n, rest, ok2 := copyField(op, 4, 3, rest)
			if !ok || !ok2 {
				return nil, errBadDelta
			}
			delta = rest
			if n == 0 {
				n = 0x10000
			}
			if off+n > uint64(len(base)) || uint64(len(out))+n > dstSize {
				return nil, errBadDelta
			}
			out = append(out, base[off:off+n]...)
		case op != 0: // insert the next op bytes
			n := int(op)
			if n > len(delta) || uint64(len(out)+n) > dstSize {
				return nil, errBadDelta
			}
			out = append(out, delta[:n]...)
			delta = delta[n:]
		default:
			return nil, errBadDelta // opcode 0 is reserved
		}
	}
	if uint64(len(out)) != dstSize {
		return nil, errBadDelta
	}
	return out, nil
}

var errBadDelta = errors.New("malformed delta")

// copyField reads a copy instruction's offset (bits 0-3 of op) or size
// (bits 4-6): the bytes whose bits are set, least significant first.
func copyField(op byte, first, n int, b []byte) (uint64, []byte, bool) {
	var v uint64
	for k := range n {
		if op&(1<<(first+k)) != 0 {
			if len(b) == 0 {
				return 0, nil, false
			}
			v |= uint64(b[0]) << (8 * k)
			b = b[1:]
		}
	}
	return v, b, true
}

// deltaSize reads one of a delta header's sizes (little-endian base-128).
func deltaSize(b []byte) (uint64, []byte, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(b) == 0 {
			return 0, nil, errBadDelta
		}
		c := b[0]
		b = b[1:]
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, b, nil
		}
	}
	return 0, nil, errBadDelta
}
