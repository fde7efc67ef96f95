package artifact_test

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/keyformat"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources/artifact"
	"github.com/leakguard/leakguard/sources/sourcetest"
)

// A key escaped in a script or stored in UTF-16 inside a Docker layer is
// found like a plain one, so it is revoked like one.
func TestEncodedKeysInLayer(t *testing.T) {
	t.Parallel()
	kit := sourcetest.NewKit(t, "dockerhub", nil)
	k1, _ := keyformat.GenerateKey(keyformat.Secret, keyformat.Live)
	k2, _ := keyformat.GenerateKey(keyformat.Restricted, keyformat.Live)
	var u16 []byte
	for _, c := range "[creds]\r\nkey=" + k2 + "\r\n" {
		u16 = append(u16, byte(c), 0)
	}
	layer := gzipped(t, tarball(t,
		"app/config.js", "module.exports = {key: \""+strings.ReplaceAll(k1, "_", `\u005f`)+"\"};\n",
		"app/creds.ini", string(append([]byte{0xff, 0xfe}, u16...))))
	got := map[string]string{}
	_, _, err := artifact.ScanTar(context.Background(), kit.Env.Scanner, bufio.NewReader(bytes.NewReader(layer)),
		artifact.TarScan{MaxUnpacked: 1 << 20, ZstdWindow: 8 << 20}, func(f scanner.Finding) {
			got[f.SecretSHA256] = f.Path
		})
	if err != nil {
		t.Fatal(err)
	}
	if got[keyformat.Fingerprint([]byte(k1))] != "app/config.js" || got[keyformat.Fingerprint([]byte(k2))] != "app/creds.ini" || len(got) != 2 {
		t.Fatalf("findings %v", got)
	}
}
