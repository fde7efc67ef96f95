// Package logblock packs the API log entries of one key into one compact
// block. A store that keeps blocks writes one row per key and flush instead
// of one row per request, which is what lets a busy API log every call
// without the database becoming the busiest process on the machine.
//
// A block is a version byte and a body. The body is a count, then each
// entry in ID order: the ID as a prefix shared with the previous ID plus the
// rest, the time as a signed microsecond delta from the previous entry, the
// status, and each text field either as "same as the previous entry" or
// with its bytes. Versions 3 and 4 add, per entry, the refusal reason (a
// text field) and the count of a summary entry. Versions 2 and 4 bodies are
// zstd-compressed; versions 1 and 3 bodies are stored as they are (small
// blocks, where zstd's frame costs more than it saves). Blocks are written
// as version 3 or 4; all four are read.
package logblock

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/truncate"

	"github.com/klauspost/compress/zstd"

	"github.com/leakguard/leakguard/keystore"
)

const (
	versionRaw    = 1 // before reasons and counts
	versionZstd   = 2
	versionRawV2  = 3 // with reasons and counts
	versionZstdV2 = 4

	// MaxEntries bounds one block, so listing a page never decodes more
	// than this many entries per block.
	MaxEntries = 2048
	// maxField bounds one text field (user agents are cut to 512 bytes
	// before they are logged; paths and the rest are shorter).
	maxField = 4096
	// maxBody bounds a decompressed body: MaxEntries full entries fit.
	maxBody = MaxEntries * (8*maxField + 64)
	// compressAbove is the body size from which zstd pays for itself.
	compressAbove = 512
)

// ErrCorrupt is returned for data that is not a block this package wrote.
var ErrCorrupt = errors.New("logblock: corrupt block")

// Codec encodes and decodes blocks. It is safe for concurrent use.
type Codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// NewCodec returns a Codec. Close it to release the zstd decoder's goroutines.
func NewCodec() (*Codec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("logblock: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBody),
		zstd.WithDecoderMaxWindow(1<<22))
	if err != nil {
		return nil, fmt.Errorf("logblock: zstd decoder: %w", err)
	}
	return &Codec{enc: enc, dec: dec}, nil
}

// Close releases the codec.
func (c *Codec) Close() { c.dec.Close() }

// Block is one key's entries, ready for a store row.
type Block struct {
	AccountID, KeyID string
	FirstID, LastID  string
	FirstAt, LastAt  time.Time
	Entries          int
	Data             []byte
}

// Split groups entries by account and key, sorts each group by ID and cuts
// it into blocks of at most MaxEntries. The same entries in any order give
// the same blocks, so a retried batch maps onto the rows it already wrote.
// Entries must have IDs.
func (c *Codec) Split(entries []keystore.APILogEntry) []Block {
	// Sort positions, not the entries: an entry is a dozen words.
	order := make([]int32, len(entries))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &entries[i], &entries[j]
		return cmp.Or(strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.KeyID, b.KeyID),
			strings.Compare(a.ID, b.ID))
	})
	var blocks []Block
	var buf []byte
	for start := 0; start < len(order); {
		first := &entries[order[start]]
		end := start + 1
		for end < len(order) && end-start < MaxEntries &&
			entries[order[end]].AccountID == first.AccountID && entries[order[end]].KeyID == first.KeyID {
			end++
		}
		group := order[start:end]
		buf = appendBody(buf[:0], entries, group)
		b := Block{
			AccountID: first.AccountID,
			KeyID:     first.KeyID,
			FirstID:   first.ID,
			LastID:    entries[group[len(group)-1]].ID,
			FirstAt:   first.Time,
			LastAt:    first.Time,
			Entries:   len(group),
			Data:      c.seal(buf),
		}
		for _, i := range group {
			if t := entries[i].Time; t.Before(b.FirstAt) {
				b.FirstAt = t
			} else if t.After(b.LastAt) {
				b.LastAt = t
			}
		}
		blocks = append(blocks, b)
		start = end
	}
	return blocks
}

func (c *Codec) seal(body []byte) []byte {
	if len(body) < compressAbove {
		out := make([]byte, 0, len(body)+1)
		return append(append(out, versionRawV2), body...)
	}
	out := make([]byte, 1, len(body)/4+16)
	out[0] = versionZstdV2
	return c.enc.EncodeAll(body, out)
}

func appendBody(b []byte, entries []keystore.APILogEntry, group []int32) []byte {
	b = binary.AppendUvarint(b, uint64(len(group)))
	prev := &keystore.APILogEntry{}
	var prevID string
	var prevMicro int64
	for n, i := range group {
		e := &entries[i]
		id := clip(e.ID)
		shared := 0
		for shared < len(id) && shared < len(prevID) && id[shared] == prevID[shared] {
			shared++
		}
		b = binary.AppendUvarint(b, uint64(shared))
		b = appendString(b, id[shared:])
		prevID = id
		micro := e.Time.UnixMicro()
		b = binary.AppendVarint(b, micro-prevMicro)
		prevMicro = micro
		b = binary.AppendVarint(b, int64(e.Status))
		first := n == 0
		b = appendField(b, e.Method, prev.Method, first)
		b = appendField(b, e.Path, prev.Path, first)
		b = appendField(b, e.IP, prev.IP, first)
		b = appendField(b, e.UserAgent, prev.UserAgent, first)
		b = appendField(b, e.RequestID, prev.RequestID, first)
		b = appendField(b, e.Reason, prev.Reason, first)
		b = binary.AppendUvarint(b, uint64(max(e.Count, 0)))
		prev = e
	}
	return b
}

// clip cuts a field to what a block holds; the key API never logs longer.
func clip(s string) string { return truncate.String(s, maxField) }

func appendString(b []byte, s string) []byte {
	s = clip(s)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendField writes 0 for "as the previous entry", else len+1 and the bytes.
func appendField(b []byte, s, prev string, first bool) []byte {
	s = clip(s)
	if !first && s == clip(prev) {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(s))+1)
	return append(b, s...)
}

// Decode returns the entries of a block in ID order; the block's row holds
// the account and key.
func (c *Codec) Decode(data []byte, accountID, keyID string) ([]keystore.APILogEntry, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	body := data[1:]
	v2 := data[0] == versionRawV2 || data[0] == versionZstdV2
	switch data[0] {
	case versionRaw, versionRawV2:
	case versionZstd, versionZstdV2:
		var err error
		body, err = c.dec.DecodeAll(body, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	default:
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, data[0])
	}
	r := reader{b: body}
	n := r.uvarint()
	if r.err != nil || n > MaxEntries {
		return nil, fmt.Errorf("%w: bad entry count", ErrCorrupt)
	}
	out := make([]keystore.APILogEntry, 0, n)
	var prev keystore.APILogEntry
	var micro int64
	for i := uint64(0); i < n; i++ {
		e := keystore.APILogEntry{AccountID: accountID, KeyID: keyID}
		shared := r.uvarint()
		rest := r.bytes()
		if r.err == nil && shared > uint64(len(prev.ID)) {
			r.err = errors.New("shared ID prefix longer than the previous ID")
		}
		if r.err != nil {
			break
		}
		e.ID = prev.ID[:shared] + string(rest)
		micro += r.varint()
		e.Time = time.UnixMicro(micro).UTC()
		e.Status = int(r.varint())
		first := i == 0
		e.Method = r.field(prev.Method, first)
		e.Path = r.field(prev.Path, first)
		e.IP = r.field(prev.IP, first)
		e.UserAgent = r.field(prev.UserAgent, first)
		e.RequestID = r.field(prev.RequestID, first)
		if v2 {
			e.Reason = r.field(prev.Reason, first)
			if n := r.uvarint(); n <= MaxEntries*1<<20 {
				e.Count = int(n)
			} else if r.err == nil {
				r.err = errors.New("count out of range")
			}
		}
		if r.err != nil {
			break
		}
		out = append(out, e)
		prev = e
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: entry %d: %v", ErrCorrupt, len(out), r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	return out, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > maxField || n > uint64(len(r.b)) {
		r.err = fmt.Errorf("field of %d bytes with %d left", n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte { return r.take(r.uvarint()) }

func (r *reader) field(prev string, first bool) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n == 0 {
		if first {
			r.err = errors.New(`"as before" in the first entry`)
		}
		return prev
	}
	return string(r.take(n - 1))
}
