package scanner

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
)

// lyingZip is a zip of one member of n zero bytes whose central directory
// claims a compressed size of about 1 GiB, so a ratio check that trusts the
// header sees nothing wrong.
func lyingZip(t testing.TB, n int) []byte {
	t.Helper()
	z := mkZip(t, false, member{"zeros.bin", make([]byte, n)})
	i := bytes.LastIndex(z, []byte("PK\x01\x02"))
	if i < 0 {
		t.Fatal("no central directory entry")
	}
	binary.LittleEndian.PutUint32(z[i+20:], 1<<30)
	return z
}

// TestHostileArchives: content that looks like an archive but is not one,
// and bytes an archive holds outside its members, are still scanned; a zip
// whose header lies about its sizes is stopped by what it really produces.
func TestHostileArchives(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	withComment := func() []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		w, _ := zw.Create("readme.txt")
		w.Write([]byte("nothing here\n"))
		zw.SetComment("deploy key " + sk)
		zw.Close()
		return b.Bytes()
	}
	cases := []struct {
		name     string
		data     []byte
		findings int
		warnIs   error // a warning that must be among those given
	}{
		{"text with zip magic", []byte("PK\x03\x04 is how a zip starts, but this is text\nkey = " + sk + "\n"), 1, nil},
		{"text with zip end magic", []byte("PK\x05\x06 and then\nkey = " + sk + "\n"), 1, nil},
		{"text with gzip magic", append([]byte{0x1f, 0x8b, 8}, []byte(" text\nkey = "+sk+"\n")...), 1, nil},
		{"zip comment", withComment(), 1, nil},
		{"data after a zip", append(mkZip(t, false, member{"a.txt", []byte("x")}), []byte("\nkey = "+sk+"\n")...), 1, nil},
		{"data after a tar's end", append(mkTar(t, member{"a.txt", []byte("x")}), []byte("key = "+sk+"\n")...), 1, nil},
		{"zip lying about its compressed size", lyingZip(t, 64<<20), 0, ErrRatio},
	}
	e := mustNew(t, Options{RuleIDs: []string{"platform"}})
	for _, tc := range cases {
		for _, mode := range []string{"stream", "file"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				var (
					got   []Finding
					warns []Warning
				)
				if mode == "stream" {
					got, warns = scanReaderWarn(t, e, "x.bin", tc.data)
				} else {
					dir := t.TempDir()
					writeFile(t, filepath.Join(dir, "x.bin"), tc.data)
					got, warns, _ = scanDir(t, e, dir)
				}
				if len(got) != tc.findings {
					t.Errorf("%d findings, want %d:%s (warnings %v)", len(got), tc.findings, describe(got), warns)
				}
				if tc.warnIs != nil {
					found := false
					for _, w := range warns {
						found = found || errors.Is(w.Err, tc.warnIs)
					}
					if !found {
						t.Errorf("warnings %v, want one wrapping %v", warns, tc.warnIs)
					}
				}
			})
		}
	}
}

// TestZipMemberLyingAboutItsSize: a member whose header claims a small
// size but inflates to more than MaxFileSize is cut off with ErrTooLarge.
func TestZipMemberLyingAboutItsSize(t *testing.T) {
	z := mkZip(t, false, member{"big.txt", bytes.Repeat([]byte("abcdefgh\n"), 1<<18)})
	i := bytes.LastIndex(z, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(z[i+24:], 10) // uncompressed size: 10 bytes
	e := mustNew(t, Options{Limits: Limits{MaxFileSize: 1 << 20, MaxRatio: -1}})
	_, warns := scanReaderWarn(t, e, "x.zip", z)
	found := false
	for _, w := range warns {
		found = found || errors.Is(w.Err, ErrTooLarge)
	}
	if !found {
		t.Fatalf("warnings %v, want one wrapping ErrTooLarge", warns)
	}
}

// TestSymlinkFarm: each level holds two symlinks to the next, so following
// links naively doubles the work per level. Each folder is walked once.
func TestSymlinkFarm(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	root := t.TempDir()
	const depth = 14
	for i := 0; i < depth; i++ {
		d := filepath.Join(root, "l"+itoa(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		next := "../l" + itoa(i+1)
		if err := os.Symlink(next, filepath.Join(d, "a")); err != nil {
			t.Skip("no symlinks here:", err)
		}
		os.Symlink(next, filepath.Join(d, "b"))
	}
	writeFile(t, filepath.Join(root, "l"+itoa(depth), "key.txt"), []byte(sk))
	e := mustNew(t, Options{RuleIDs: []string{"platform"}, FollowSymlinks: true})
	got, warns, st := scanDir(t, e, root)
	if len(got) != 1 || st.Files != 1 {
		t.Fatalf("%d findings in %d files, want 1 in 1 (warnings: %d)", len(got), st.Files, len(warns))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestSymlinkOutOfRoot: a symlink leading out of the scanned root is named
// in a warning and not followed, unless following was asked for.
func TestSymlinkOutOfRoot(t *testing.T) {
	sk := newKey(t, keyformat.Secret, keyformat.Live)
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "d", "key.txt"), []byte(sk))
	writeFile(t, filepath.Join(outside, "f.txt"), []byte(sk))
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "in.txt"), []byte("nothing"))
	if err := os.Symlink(filepath.Join(outside, "d"), filepath.Join(root, "dirlink")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	os.Symlink(filepath.Join(outside, "f.txt"), filepath.Join(root, "filelink"))
	os.Symlink("in.txt", filepath.Join(root, "inside")) // stays in the root: followed

	got, warns, _ := scanDir(t, mustNew(t, Options{RuleIDs: []string{"platform"}}), root)
	if len(got) != 0 {
		t.Errorf("followed a link out of the root:%s", describe(got))
	}
	want := map[string]bool{"dirlink": true, "filelink": true}
	for _, w := range warns {
		if !errors.Is(w.Err, ErrSymlinkOutside) || !want[w.Path] {
			t.Errorf("unexpected warning %v", w)
		}
		delete(want, w.Path)
	}
	for p := range want {
		t.Errorf("no warning for %s", p)
	}

	got, warns, _ = scanDir(t, mustNew(t, Options{RuleIDs: []string{"platform"}, FollowSymlinks: true}), root)
	if len(got) != 2 || len(warns) != 0 {
		t.Errorf("following links: %d findings (want 2), warnings %v:%s", len(got), warns, describe(got))
	}
}
