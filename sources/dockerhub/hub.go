package dockerhub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/leakguard/leakguard/internal/httpx"
)

const (
	hubPageSize     = 100 // the Hub API's maximum
	maxHubPages     = 100 // 10 000 repositories or tags per listing
	maxHubPageBytes = 8 << 20
)

// hubRepo is one entry of GET /v2/namespaces/{ns}/repositories.
type hubRepo struct {
	Name        string     `json:"name"`
	Namespace   string     `json:"namespace"`
	LastUpdated *time.Time `json:"last_updated"`
}

// hubTag is one entry of GET /v2/namespaces/{ns}/repositories/{repo}/tags.
type hubTag struct {
	Name        string    `json:"name"`
	Digest      string    `json:"digest"`
	LastUpdated time.Time `json:"last_updated"`
	MediaType   string    `json:"media_type"`
}

type hubPage[T any] struct {
	Count   int     `json:"count"`
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

// hubGet fetches one page. next links are followed on the configured Hub
// host only (their path and query), so a page cannot send the client
// elsewhere.
func (s *Source) hubGet(ctx context.Context, u *url.URL, v any) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	data, _, err := httpx.Get(ctx, s.client, u.String(), http.Header{"Accept": {"application/json"}}, maxHubPageBytes)
	if err != nil {
		return classify(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return permanent(fmt.Errorf("decode %s: %w", httpx.RedactURL(u.String()), err))
	}
	return nil
}

func (s *Source) nextURL(next *string) (*url.URL, bool) {
	if next == nil || *next == "" {
		return nil, false
	}
	n, err := url.Parse(*next)
	if err != nil {
		return nil, false
	}
	u := *s.hub
	u.Path, u.RawPath, u.RawQuery = n.Path, n.RawPath, n.RawQuery
	return &u, true
}

// listRepos lists a namespace's repositories.
func (s *Source) listRepos(ctx context.Context, ns string) ([]hubRepo, error) {
	u := s.hub.ResolveReference(&url.URL{Path: "v2/namespaces/" + url.PathEscape(ns) + "/repositories",
		RawQuery: url.Values{"page_size": {fmt.Sprint(hubPageSize)}}.Encode()})
	var out []hubRepo
	for page := 0; page < maxHubPages; page++ {
		var p hubPage[hubRepo]
		if err := s.hubGet(ctx, u, &p); err != nil {
			return nil, fmt.Errorf("list repositories of %s: %w", ns, err)
		}
		out = append(out, p.Results...)
		next, ok := s.nextURL(p.Next)
		if !ok {
			break
		}
		u = next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// listTags lists the tags of a repository updated after since, oldest
// first. It asks for the newest first and stops paging once a whole page,
// in that order, is older than since.
func (s *Source) listTags(ctx context.Context, ns, repo string, since time.Time) ([]hubTag, error) {
	u := s.hub.ResolveReference(&url.URL{Path: "v2/namespaces/" + url.PathEscape(ns) + "/repositories/" + url.PathEscape(repo) + "/tags",
		RawQuery: url.Values{"page_size": {fmt.Sprint(hubPageSize)}, "ordering": {"last_updated"}}.Encode()})
	var out []hubTag
	for page := 0; page < maxHubPages; page++ {
		var p hubPage[hubTag]
		if err := s.hubGet(ctx, u, &p); err != nil {
			return nil, fmt.Errorf("list tags of %s/%s: %w", ns, repo, err)
		}
		descending := true
		for i, t := range p.Results {
			if t.LastUpdated.After(since) {
				out = append(out, t)
			}
			if i > 0 && t.LastUpdated.After(p.Results[i-1].LastUpdated) {
				descending = false
			}
		}
		if n := len(p.Results); n > 0 && descending && !p.Results[n-1].LastUpdated.After(since) {
			break // newest first, and the rest is older still
		}
		next, ok := s.nextURL(p.Next)
		if !ok {
			break
		}
		u = next
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastUpdated.Before(out[j].LastUpdated) })
	return out, nil
}
