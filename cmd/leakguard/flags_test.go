package main

import (
	"slices"
	"testing"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args    []string
		pos     []string
		account string
		json    bool
	}{
		{[]string{"KEY", "--account", "A"}, []string{"KEY"}, "A", false},
		{[]string{"--account", "A", "KEY"}, []string{"KEY"}, "A", false},
		{[]string{"x", "--json", "y", "--account=B"}, []string{"x", "y"}, "B", true},
		{[]string{"x", "--", "--json", "-y"}, []string{"x", "--json", "-y"}, "", false},
		{[]string{"--", "a"}, []string{"a"}, "", false},
		{nil, nil, "", false},
	}
	for _, c := range cases {
		fs := newFlagSet("t")
		account := fs.String("account", "", "")
		asJSON := fs.Bool("json", false, "")
		pos, err := parseFlags(fs, c.args)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if !slices.Equal(pos, c.pos) || *account != c.account || *asJSON != c.json {
			t.Errorf("%q: got %q account=%q json=%v, want %q %q %v", c.args, pos, *account, *asJSON, c.pos, c.account, c.json)
		}
	}
	fs := newFlagSet("t")
	if _, err := parseFlags(fs, []string{"a", "--nope"}); err == nil {
		t.Error("unknown flag accepted")
	}
}
