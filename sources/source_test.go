package sources_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/sources"
)

func TestParseSourceList(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                        "[github gists npm]",
		"none":                    "[]",
		"github, pastebin,github": "[github pastebin]",
		"GitHub,DockerHub":        "[github dockerhub]",
	} {
		got, err := sources.ParseSourceList(in)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
	if _, err := sources.ParseSourceList("github,gitlab"); err == nil || !strings.Contains(err.Error(), "gitlab") {
		t.Fatalf("unknown source: %v", err)
	}
}
