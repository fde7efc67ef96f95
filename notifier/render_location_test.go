package notifier_test

import (
	"strings"
	"testing"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/notifier"
)

// The email names the exact artifact at the place it was read (the
// configured registry), and the public web page only when that place is
// the upstream's own public service: a mirror's package is not on
// www.npmjs.com.
func TestEmailNamesTheExactArtifact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		source  string
		loc     leakguard.Location
		want    []string
		notWant []string
	}{
		{"npm, npm's own registry", leakguard.SourceNPM,
			leakguard.Location{URL: "https://registry.npmjs.org/@acme/tool/-/tool-2.1.0.tgz", Repository: "@acme/tool", Commit: "2.1.0", Path: "package/lib/config.json", Line: 2},
			[]string{"Tarball:     https://registry.npmjs.org/@acme/tool/-/tool-2.1.0.tgz", "Package:     @acme/tool@2.1.0",
				"File:        package/lib/config.json", "Web page:    https://www.npmjs.com/package/@acme/tool/v/2.1.0"}, nil},
		{"npm, another registry", leakguard.SourceNPM,
			leakguard.Location{URL: "https://npm.internal.example/leaky-lib/-/leaky-lib-1.0.0.tgz", Repository: "leaky-lib", Commit: "1.0.0", Path: "package/index.js", Line: 3},
			[]string{"Tarball:     https://npm.internal.example/leaky-lib/-/leaky-lib-1.0.0.tgz", "Package:     leaky-lib@1.0.0", "File:        package/index.js"},
			[]string{"npmjs.com", "Web page"}},
		{"dockerhub, Docker Hub's registry", leakguard.SourceDockerHub,
			leakguard.Location{URL: "https://registry-1.docker.io/v2/acme/web/blobs/sha256:ab", Repository: "acme/web:v1", Commit: "sha256:cd", Layer: "sha256:ab", Path: "app/.env"},
			[]string{"Blob:        https://registry-1.docker.io/v2/acme/web/blobs/sha256:ab", "Image:       acme/web:v1", "Manifest:    sha256:cd",
				"Image layer: sha256:ab", "Web page:    https://hub.docker.com/r/acme/web/tags"}, nil},
		{"dockerhub, an official image", leakguard.SourceDockerHub,
			leakguard.Location{URL: "https://registry-1.docker.io/v2/library/redis/blobs/sha256:ab", Repository: "library/redis:7", Commit: "sha256:cd", Layer: "sha256:ab", Path: "etc/redis.conf"},
			[]string{"Web page:    https://hub.docker.com/_/redis/tags"}, nil},
		{"npm, a look-alike host", leakguard.SourceNPM,
			leakguard.Location{URL: "https://registry.npmjs.org.evil.example/x/-/x-1.0.0.tgz", Repository: "x", Commit: "1.0.0", Path: "package/a.js"},
			[]string{"Tarball:     https://registry.npmjs.org.evil.example/x/-/x-1.0.0.tgz"}, []string{"www.npmjs.com", "Web page"}},
		{"dockerhub, another registry", leakguard.SourceDockerHub,
			leakguard.Location{URL: "https://registry.example.com/v2/acme/web/blobs/sha256:ab", Repository: "acme/web:v1", Commit: "sha256:cd", Layer: "sha256:ab", Path: "app/.env"},
			[]string{"Blob:        https://registry.example.com/v2/acme/web/blobs/sha256:ab", "Image:       acme/web:v1"},
			[]string{"hub.docker.com", "Web page"}},
		{"pastebin, Pastebin's own", leakguard.SourcePastebin,
			leakguard.Location{URL: "https://scrape.pastebin.com/api_scrape_item.php?i=0CeaNm8Y", Path: "0CeaNm8Y", Line: 2},
			[]string{"Paste:       https://scrape.pastebin.com/api_scrape_item.php?i=0CeaNm8Y", "Web page:    https://pastebin.com/0CeaNm8Y"}, nil},
		{"pastebin, another base", leakguard.SourcePastebin,
			leakguard.Location{URL: "https://paste.example.com/api_scrape_item.php?i=0CeaNm8Y", Path: "0CeaNm8Y", Line: 2},
			[]string{"Paste:       https://paste.example.com/api_scrape_item.php?i=0CeaNm8Y"}, []string{"pastebin.com/", "Web page"}},
		{"github", leakguard.SourceGitHub,
			leakguard.Location{URL: "https://ghe.example.com/octo/app/blob/0123abc/.env#L3", Repository: "octo/app", Commit: "0123abc", Path: ".env", Line: 3},
			[]string{"URL:         https://ghe.example.com/octo/app/blob/0123abc/.env#L3", "Repository:  octo/app", "Commit:      0123abc"},
			[]string{"Web page", "github.com/"}},
		{"gists", leakguard.SourceGists,
			leakguard.Location{URL: "https://gist.github.com/abc#file-a-env", Repository: "octo/abc", Path: "a.env", Line: 1},
			[]string{"URL:         https://gist.github.com/abc#file-a-env", "Gist:        octo/abc"}, []string{"Web page"}},
		{"partner", leakguard.SourceGitHubScanning,
			leakguard.Location{URL: "https://github.com/o/r/blob/c/d#L1", Repository: "o/r", Commit: "c", Path: "d", Line: 1},
			[]string{"URL:         https://github.com/o/r/blob/c/d#L1", "Repository:  o/r"}, []string{"Web page"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := testMessage()
			msg.Notice.Incident.Source, msg.Notice.Incident.Location = tc.source, tc.loc
			e, err := notifier.Render(msg)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, e.Text)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(e.Text, w) || strings.Contains(e.HTML, w) {
					t.Errorf("email names %q:\n%s", w, e.Text)
				}
			}
			if !strings.Contains(e.HTML, tc.loc.URL[:20]) {
				t.Error("the HTML part lacks the artifact URL")
			}
		})
	}
}
