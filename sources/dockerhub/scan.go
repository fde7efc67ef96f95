package dockerhub

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/internal/httpx"
	"github.com/leakguard/leakguard/scanner"
	"github.com/leakguard/leakguard/sources"
	"github.com/leakguard/leakguard/sources/artifact"
)

// scanImage scans an image's config and layers, each blob once.
func (s *Source) scanImage(ctx context.Context, img imageRef, m manifest) error {
	repoPath := img.ns + "/" + img.repo
	if id := "dockerhub:config:" + m.Config.Digest; !sources.SeenHas(s.env.Seen, id) {
		item, err := s.scanConfig(ctx, img, *m.Config)
		if err == nil {
			err = s.publish(ctx, item, id)
		}
		if err != nil {
			if !isPermanent(err) {
				return err
			}
			s.log.Warn("dockerhub: skipping image config", "repository", repoPath, "tag", img.tag, "config", m.Config.Digest, "err", err)
		}
	}
	for i, l := range m.Layers {
		if i >= maxLayers {
			s.log.Warn("dockerhub: too many layers; scanned the first ones", "repository", repoPath, "tag", img.tag, "layers", len(m.Layers))
			break
		}
		if !isTarLayer(l.MediaType) || len(l.URLs) > 0 {
			continue // not a filesystem layer, or a foreign layer Hub does not serve
		}
		if !validDigest(l.Digest) {
			s.log.Warn("dockerhub: skipping layer with an unsupported digest", "repository", repoPath, "tag", img.tag, "digest", l.Digest)
			continue
		}
		id := "dockerhub:layer:" + l.Digest
		if sources.SeenHas(s.env.Seen, id) {
			continue
		}
		if l.Size > s.cfg.MaxLayerBytes {
			s.log.Warn("dockerhub: skipping layer over the size limit", "repository", repoPath, "tag", img.tag, "layer", l.Digest, "size", l.Size, "limit", s.cfg.MaxLayerBytes)
			continue
		}
		item, err := s.scanLayer(ctx, img, l)
		if err == nil {
			err = s.publish(ctx, item, id)
		}
		if err != nil {
			if !isPermanent(err) {
				return err
			}
			s.log.Warn("dockerhub: discarding layer", "repository", repoPath, "tag", img.tag, "layer", l.Digest, "err", err)
		}
	}
	return nil
}

// isTarLayer accepts the OCI and Docker filesystem layer types (tar, gzip,
// zstd, non-distributable); artifacts and attestations are not filesystems.
func isTarLayer(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.oci.image.layer.") ||
		strings.HasPrefix(mt, "application/vnd.docker.image.rootfs.")
}

// publish puts a blob's hits on the bus, then marks the blob scanned: a
// blob whose hits did not all get out is scanned again.
func (s *Source) publish(ctx context.Context, item *sources.Item, id string) error {
	if err := item.Publish(ctx); err != nil {
		return err
	}
	s.markSeen(ctx, id)
	return nil
}

// markSeen records content as scanned. Failing to record costs only a
// re-scan, so it is logged, not returned.
func (s *Source) markSeen(ctx context.Context, id string) {
	if err := sources.MarkSeen(ctx, s.env.Seen, id); err != nil {
		s.log.Warn("dockerhub: record scanned content", "id", id, "err", err)
	}
}

// configFile is the part of an image config that holds text worth
// scanning.
type configFile struct {
	Config struct {
		Env        []string          `json:"Env"`
		Cmd        []string          `json:"Cmd"`
		Entrypoint []string          `json:"Entrypoint"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	History []struct {
		CreatedBy string `json:"created_by"`
	} `json:"history"`
}

// scanConfig fetches the config blob, checks its digest and scans its
// text fields. A config that is not the expected JSON is scanned whole.
func (s *Source) scanConfig(ctx context.Context, img imageRef, d descriptor) (*sources.Item, error) {
	if d.Size > maxConfigBytes {
		return nil, permanent(fmt.Errorf("config is %d bytes, over the %d byte limit", d.Size, maxConfigBytes))
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	resp, err := s.reg.blob(ctx, img.ns+"/"+img.repo, d.Digest)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := httpx.ReadBody(resp.Body, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", d.Digest, err)
	}
	if got := sha256Digest(data); got != d.Digest {
		return nil, permanent(fmt.Errorf("config digest mismatch: got %s, want %s", got, d.Digest))
	}
	item := sources.NewItem(s.env, leakguard.SourceDockerHub)
	base := img.location(d.Digest)
	at := func(f scanner.Finding) leakguard.Location {
		l := base
		l.Path = f.Path
		return l
	}
	var cf configFile
	if err := json.Unmarshal(data, &cf); err != nil {
		item.Scan("config", data, at)
		return item, nil
	}
	scan := func(path string, lines []string) {
		if len(lines) > 0 {
			item.Scan(path, []byte(strings.Join(lines, "\n")), at)
		}
	}
	scan("config:Env", cf.Config.Env)
	scan("config:Cmd", cf.Config.Cmd)
	scan("config:Entrypoint", cf.Config.Entrypoint)
	labels := make([]string, 0, len(cf.Config.Labels))
	for k, v := range cf.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	scan("config:Labels", labels)
	for i, h := range cf.History {
		scan(fmt.Sprintf("config:history[%d].created_by", i), []string{h.CreatedBy})
	}
	return item, nil
}

// scanLayer streams one layer blob through its sha256, its decompressor and
// tar into the scanner, and returns its hits once the digest matched.
func (s *Source) scanLayer(ctx context.Context, img imageRef, d descriptor) (*sources.Item, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DownloadTimeout)
	defer cancel()
	resp, err := s.reg.blob(ctx, img.ns+"/"+img.repo, d.Digest)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > s.cfg.MaxLayerBytes {
		return nil, permanent(fmt.Errorf("layer is %d bytes, over the %d byte limit", resp.ContentLength, s.cfg.MaxLayerBytes))
	}
	base := img.location(d.Digest)
	base.Layer = d.Digest
	v, err := artifact.ScanVerified(ctx, s.env, leakguard.SourceDockerHub, resp.Body, artifact.VerifiedScan{
		What:    "layer",
		Wrap:    artifact.WrapRead,
		Limit:   s.cfg.MaxLayerBytes,
		Hash:    sha256.New(),
		MaxHits: maxHitsPerBlob,
		Location: func(f scanner.Finding) leakguard.Location {
			l := base
			l.Path = f.Path
			return l
		},
		Scan: s.scanTar,
	})
	if err != nil {
		var de *artifact.DownloadError
		if errors.As(err, &de) {
			return nil, fmt.Errorf("download layer %s: %w", d.Digest, de.Err)
		}
		return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(v.Sum); got != d.Digest {
		return nil, permanent(fmt.Errorf("layer digest mismatch: got %s, want %s", got, d.Digest))
	}
	if v.Dropped > 0 {
		s.log.Warn("dockerhub: too many findings in one layer; reporting the first ones", "layer", d.Digest, "reported", len(v.Item.Hits()), "dropped", v.Dropped)
	}
	return v.Item, nil
}

// scanTar scans a layer's tar stream, whatever its compression. A problem
// inside one member (a broken nested archive) is logged and the scan goes
// on; only a failure to read the stream itself is fatal.
func (s *Source) scanTar(ctx context.Context, raw *bufio.Reader, emit func(scanner.Finding)) (int64, error) {
	warnings := 0
	warn := func(w scanner.Warning) {
		if warnings++; warnings <= 10 {
			s.log.Warn("dockerhub: skipped part of a member", "path", w.Path, "err", w.Err)
		}
	}
	unpacked, _, err := artifact.ScanTar(ctx, s.env.Scanner, raw, artifact.TarScan{
		MaxUnpacked: s.cfg.MaxUnpackedBytes, ZstdWindow: 128 << 20, Wrap: artifact.WrapRead, Warn: warn,
	}, emit)
	return unpacked, err
}
