package pastebin

import (
	"encoding/json"
	"net/url"
	"testing"
)

func TestListingNumbersAsStringsOrNumbers(t *testing.T) {
	var list []Paste
	body := `[{"key":"a1","date":"1442911802","size":"890","full_url":"https://pastebin.com/a1"},
		{"key":"b2","date":1442911803,"size":12,"expire":null}]`
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if list[0].unix() != 1442911802 || list[1].unix() != 1442911803 || list[1].Size != "12" {
		t.Fatalf("%+v", list)
	}
}

func FuzzListing(f *testing.F) {
	for _, s := range []string{
		`[{"scrape_url":"https://scrape.pastebin.com/api_scrape_item.php?i=0CeaNm8Y","full_url":"https://pastebin.com/0CeaNm8Y","date":"1442911802","key":"0CeaNm8Y","size":"890","expire":"1442998159","title":"t","syntax":"java","user":"admin"}]`,
		`[{"date":1e400}]`, `[{"date":{}}]`, `[]`, `YOUR IP: 1.2.3.4 DOES NOT HAVE ACCESS`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var list []Paste
		if json.Unmarshal(body, &list) != nil {
			return
		}
		for _, p := range list {
			_ = p.unix()
			if validKey(p.Key) {
				s := &Source{base: DefaultURL}
				u, err := url.Parse(s.itemURL(p.Key))
				if err != nil || u.Query().Get("i") != p.Key {
					t.Fatalf("item URL %v does not name paste %q", u, p.Key)
				}
			}
		}
		_ = refusal(body)
	})
}
