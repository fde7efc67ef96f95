package scanner

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// TestScanTarOneReader: the tar reader the sources use and the one inside
// file scans are one: the same magic bytes pick the same decoder.
func TestScanTarOneReader(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	plain := mkTar(t, member{"package/a.js", []byte("x\n" + sk + "\n")})
	e := mustNew(t, Options{RuleIDs: []string{"platform"}})
	for name, body := range map[string][]byte{"tar": plain, "tar.gz": mkGzip(t, plain), "tar.zst": mkZstd(t, plain)} {
		var got []Finding
		n, entries, err := e.ScanTar(context.Background(), bufio.NewReader(bytes.NewReader(body)),
			TarScan{MaxUnpacked: 1 << 20}, func(f Finding) { got = append(got, f) })
		if err != nil || entries != 3 || n < int64(len(plain))-1024 || len(got) != 1 || got[0].Path != "package/a.js" || got[0].Line != 2 {
			t.Errorf("%s: %d bytes, %d entries, err %v, findings%s", name, n, entries, err, describe(got))
		}
	}
	// Two gzip magic bytes and then no deflate stream: both readers take
	// it for gzip (the file scan then scans the bytes raw).
	broken := []byte{0x1f, 0x8b, 0, 0, 0, 0}
	if _, _, err := e.ScanTar(context.Background(), bufio.NewReader(bytes.NewReader(broken)), TarScan{MaxUnpacked: 1 << 20},
		func(Finding) {}); err == nil || !strings.Contains(err.Error(), "open gzip") {
		t.Errorf("ScanTar: err %v, want open gzip", err)
	}
	_, warns := scanReaderWarn(t, e, "x.bin", broken)
	if len(warns) == 0 || !strings.Contains(warns[0].Error(), "gzip") {
		t.Errorf("file scan warnings %v, want a gzip one", warns)
	}
	// Past MaxUnpacked: the caller's error.
	if _, _, err := e.ScanTar(context.Background(), bufio.NewReader(bytes.NewReader(plain)), TarScan{MaxUnpacked: 512},
		func(Finding) {}); err == nil || !strings.Contains(err.Error(), ErrTooLarge.Error()) {
		t.Errorf("over the cap: err %v", err)
	}
}
