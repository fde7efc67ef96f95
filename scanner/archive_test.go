package scanner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/leakguard/leakguard/keyformat"
)

type member struct {
	name string
	data []byte
}

func mkZip(t testing.TB, store bool, ms ...member) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, m := range ms {
		method := zip.Deflate
		if store {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mkTar(t testing.TB, ms ...member) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, m := range ms {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.data)
	}
	tw.WriteHeader(&tar.Header{Name: "link", Linkname: "etc/passwd", Typeflag: tar.TypeSymlink})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mkGzip(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func mkZstd(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	zw, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// TestArchives: a key inside each kind of archive is found, with the
// archive path joined by "!" and the line inside the member.
func TestArchives(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	rk := newKey(t, keyformat.Restricted, keyformat.Live)
	text := []byte("# config\nSECRET=" + sk + "\n")
	inner := mkZip(t, false, member{"app/config.env", text})
	cases := []struct {
		name  string
		file  string
		data  []byte
		paths []string
	}{
		{"zip", "a.zip", mkZip(t, false, member{"app/config.env", text}, member{"empty/", nil}), []string{"a.zip!app/config.env"}},
		{"stored zip", "a.zip", mkZip(t, true, member{"x.txt", text}), []string{"a.zip!x.txt"}},
		{"jar", "lib.jar", mkZip(t, false, member{"META-INF/app.properties", text}), []string{"lib.jar!META-INF/app.properties"}},
		{"tar", "a.tar", mkTar(t, member{"etc/app.env", text}), []string{"a.tar!etc/app.env"}},
		{"tar.gz", "layer.tar.gz", mkGzip(t, mkTar(t, member{"etc/app.env", text})), []string{"layer.tar.gz!etc/app.env"}},
		{"tgz", "pkg.tgz", mkGzip(t, mkTar(t, member{"package/index.js", text})), []string{"pkg.tgz!package/index.js"}},
		{"gzip", "x.gz", mkGzip(t, text), []string{"x.gz!x"}},
		{"gzip without .gz", "dump", mkGzip(t, text), []string{"dump!dump"}},
		{"zstd", "notes.txt.zst", mkZstd(t, text), []string{"notes.txt.zst!notes.txt"}},
		{"tar+zstd (docker layer)", "layer", mkZstd(t, mkTar(t, member{"root/.env", text})), []string{"layer!root/.env"}},
		{"zip in tar.gz", "outer.tar.gz", mkGzip(t, mkTar(t, member{"inner.zip", inner})), []string{"outer.tar.gz!inner.zip!app/config.env"}},
		{"zip in zip in zip", "a.zip", mkZip(t, false, member{"b.zip", mkZip(t, false, member{"c.zip", inner})}),
			[]string{"a.zip!b.zip!c.zip!app/config.env"}},
		{"gz in zip", "a.zip", mkZip(t, true, member{"logs/x.log.gz", mkGzip(t, text)}), []string{"a.zip!logs/x.log.gz!x.log"}},
		{"tar name with ../", "evil.tar", mkTar(t, member{"../../etc/cron.d/x", text}), []string{"evil.tar!../../etc/cron.d/x"}},
		{"zip name with ../", "evil.zip", mkZip(t, false, member{"../../x.env", text}), []string{"evil.zip!../../x.env"}},
		{"two members", "two.tar", mkTar(t, member{"a", text}, member{"b", []byte("x " + rk)}), []string{"two.tar!a", "two.tar!b"}},
	}
	e, _ := New(Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(way string, got []Finding) {
				t.Helper()
				var paths []string
				for _, f := range got {
					paths = append(paths, f.Path)
					if f.Path == tc.paths[0] && (f.Line != 2 || f.Column != 8 || f.SecretSHA256 != sha(sk)) {
						t.Errorf("%s: %s:%d:%d, want line 2 column 8", way, f.Path, f.Line, f.Column)
					}
				}
				if !slices.Equal(paths, tc.paths) {
					t.Errorf("%s: paths %q, want %q", way, paths, tc.paths)
				}
			}
			check("reader", collectReader(t, e, tc.file, bytes.NewReader(tc.data)))
			check("bytes", collectBytes(e, tc.file, tc.data))
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, warns, st := scanDir(t, e, dir)
			if len(warns) != 0 {
				t.Errorf("files: warnings %v", warns)
			}
			if st.Files != 1 || st.Bytes != int64(len(tc.data)) {
				t.Errorf("files: stats %+v, want 1 file of %d bytes", st, len(tc.data))
			}
			check("files", got)
		})
	}
}

// TestBigZipFromStreamIsSpooled: a zip larger than the in-memory spool
// comes through a temporary file, which is removed afterwards.
func TestBigZipFromStreamIsSpooled(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	e := mustNew(t, Options{})
	e.spoolMem = 64 << 10
	big := bytes.Repeat([]byte("0123456789abcdef\n"), (e.spoolMem/17)+1000)
	z := mkZip(t, true, member{"big.txt", big}, member{"k.txt", []byte(sk)})
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "leakguard-spool-*"))
	got := collectReader(t, e, "s.zip", bytes.NewReader(z))
	if len(got) != 1 || got[0].Path != "s.zip!k.txt" {
		t.Fatalf("got%s", describe(got))
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "leakguard-spool-*"))
	if len(after) > len(before) {
		t.Fatalf("spool files left behind: %v", after)
	}
}

func scanReaderWarn(t testing.TB, e *Engine, name string, data []byte) ([]Finding, []Warning) {
	t.Helper()
	var fs []Finding
	var ws []Warning
	err := e.ScanStream(context.Background(), name, bytes.NewReader(data), func(f Finding) { fs = append(fs, f) },
		func(w Warning) { ws = append(ws, w) })
	if err != nil {
		t.Fatalf("ScanStream: %v", err)
	}
	return fs, ws
}

// TestArchiveLimits: bombs and deep nesting give a warning, never an OOM,
// and what lies before the problem is still reported.
func TestArchiveLimits(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	zeros := make([]byte, 8<<20) // deflates about 1000:1
	bomb := mkZip(t, false, member{"first.txt", []byte(sk)}, member{"zeros.bin", zeros}, member{"after.txt", []byte(sk)})
	gzBomb := mkGzip(t, zeros)
	nested := []byte(sk)
	name := "k.txt"
	for i := range 12 {
		nested = mkZip(t, false, member{name, nested})
		name = "n" + string(rune('a'+i)) + ".zip"
	}
	cases := []struct {
		name     string
		limits   Limits
		data     []byte
		errIs    error
		findings int
	}{
		{"zip bomb by ratio", Limits{}, bomb, ErrRatio, 2},
		{"gzip bomb by ratio", Limits{}, gzBomb, ErrRatio, 0},
		{"total expansion", Limits{MaxDecompressedBytes: 1 << 20, MaxRatio: -1}, bomb, ErrExpansion, 1},
		{"nesting depth", Limits{}, nested, ErrArchiveDepth, 0},
		{"nesting within a larger depth", Limits{MaxArchiveDepth: 20}, nested, nil, 1},
		{"member size", Limits{MaxFileSize: 1 << 20, MaxRatio: -1}, bomb, ErrTooLarge, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := New(Options{Limits: tc.limits})
			var peak uint64
			var got []Finding
			var warns []Warning
			peak = peakHeap(func() { got, warns = scanReaderWarn(t, e, "bomb.zip", tc.data) })
			if len(got) != tc.findings {
				t.Errorf("%d findings, want %d:%s", len(got), tc.findings, describe(got))
			}
			if tc.errIs == nil {
				if len(warns) != 0 {
					t.Errorf("warnings %v, want none", warns)
				}
				return
			}
			if len(warns) != 1 || !errors.Is(warns[0].Err, tc.errIs) {
				t.Fatalf("warnings %v, want one wrapping %v", warns, tc.errIs)
			}
			if peak > 200<<20 {
				t.Errorf("peak heap %d MB", peak>>20)
			}
		})
	}
	// A nil warn is allowed.
	if err := mustNew(t, Options{}).ScanStream(context.Background(), "b.zip", bytes.NewReader(bomb), func(Finding) {}, nil); err != nil {
		t.Fatalf("ScanStream with nil warn: %v", err)
	}
	// ScanReader returns the warnings as its error after scanning the rest.
	e, _ := New(Options{})
	var n int
	err := e.ScanReader(context.Background(), "bomb.zip", bytes.NewReader(bomb), func(Finding) { n++ })
	if !errors.Is(err, ErrRatio) || n != 2 {
		t.Fatalf("ScanReader: err %v, %d findings; want ErrRatio and 2", err, n)
	}
}

// TestCorruptArchives never panic and report a warning.
func TestCorruptArchives(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	z := mkZip(t, false, member{"a.txt", []byte(sk + strings.Repeat(" pad", 1000))})
	gz := mkGzip(t, []byte(sk+strings.Repeat(" pad", 1000)))
	cases := map[string][]byte{
		"truncated zip":   z[:len(z)/2],
		"truncated gzip":  gz[:len(gz)-10],
		"bad gzip crc":    append(slices.Clone(gz[:len(gz)-8]), 0, 0, 0, 0, 0, 0, 0, 0),
		"zip header only": []byte("PK\x03\x04garbage"),
		"gzip magic only": {0x1f, 0x8b, 8},
		"zstd magic only": {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3},
	}
	e, _ := New(Options{})
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, warns := scanReaderWarn(t, e, "x", data)
			if len(warns) == 0 {
				t.Fatalf("no warning for a %s", name)
			}
			for _, w := range warns {
				if strings.Contains(w.Error(), sk) {
					t.Fatal("warning holds the secret")
				}
			}
		})
	}
}
