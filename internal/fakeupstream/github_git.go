package fakeupstream

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/diff"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/memory"
	godiff "github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// epoch is when the fake's history starts; every commit is a second later
// than the one before, so equal trees still get distinct SHAs.
var epoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// commitLocked writes one commit of changes on top of parent ("" for a
// root commit) as real git objects in r's storage and returns its SHA.
func (g *GitHub) commitLocked(r *ghRepo, parent string, changes []Change) string {
	tree := map[string]string{}
	var parents []string
	if parent != "" {
		for p, c := range g.commits[r.name+"@"+parent].tree {
			tree[p] = c
		}
		parents = []string{parent}
	}
	var files []ghFile
	var msg []string
	for _, ch := range changes {
		old, existed := tree[ch.Path]
		f := ghFile{path: ch.Path}
		switch {
		case ch.Delete:
			if !existed {
				continue
			}
			delete(tree, ch.Path)
			f.status, f.binary = "removed", isBinary(old)
			f.patch, _, f.deletions = unifiedPatch(old, "", true)
			msg = append(msg, "Delete "+ch.Path)
		default:
			tree[ch.Path] = ch.Content
			f.status, f.content, f.binary = "added", ch.Content, isBinary(ch.Content)
			if existed {
				f.status = "modified"
			}
			f.patch, f.additions, f.deletions = unifiedPatch(old, ch.Content, existed)
			msg = append(msg, "Update "+ch.Path)
		}
		files = append(files, f)
	}
	g.clock++
	when := epoch.Add(time.Duration(g.clock) * time.Second)
	owner, _, _ := strings.Cut(r.name, "/")
	treeHash := writeTree(r.st, tree)
	sig := object.Signature{Name: owner, Email: owner + "@users.noreply.github.com", When: when}
	c := &object.Commit{Author: sig, Committer: sig, Message: strings.Join(msg, ", ") + "\n", TreeHash: treeHash}
	for _, p := range parents {
		c.ParentHashes = append(c.ParentHashes, plumbing.NewHash(p))
	}
	obj := r.st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		g.t.Fatalf("fakeupstream: encode commit: %v", err)
	}
	h, err := r.st.SetEncodedObject(obj)
	if err != nil {
		g.t.Fatalf("fakeupstream: store commit: %v", err)
	}
	sha := h.String()
	g.commits[r.name+"@"+sha] = &ghCommit{repo: r.name, sha: sha, parents: parents, message: c.Message,
		files: files, tree: tree, when: when}
	return sha
}

// writeTree stores files (path → content) as blobs and nested trees and
// returns the root tree's hash.
func writeTree(st *memory.Storage, files map[string]string) plumbing.Hash {
	type dir struct {
		files map[string]string
		dirs  map[string]map[string]string
	}
	d := dir{files: map[string]string{}, dirs: map[string]map[string]string{}}
	for p, c := range files {
		if first, rest, ok := strings.Cut(p, "/"); ok {
			if d.dirs[first] == nil {
				d.dirs[first] = map[string]string{}
			}
			d.dirs[first][rest] = c
		} else {
			d.files[p] = c
		}
	}
	var t object.Tree
	for name, content := range d.files {
		obj := st.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, _ := obj.Writer()
		_, _ = w.Write([]byte(content))
		_ = w.Close()
		h, _ := st.SetEncodedObject(obj)
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	for name, sub := range d.dirs {
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: writeTree(st, sub)})
	}
	// git orders entries by name, a directory's name as if it ended in "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(t.Entries, func(i, j int) bool { return key(t.Entries[i]) < key(t.Entries[j]) })
	obj := st.NewEncodedObject()
	_ = t.Encode(obj)
	h, _ := st.SetEncodedObject(obj)
	return h
}

// blobSHA is git's object id of content.
func blobSHA(content string) string {
	sum := sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(content), content)))
	return hex.EncodeToString(sum[:])
}

// isBinary reports content git (and GitHub) treat as binary: a NUL byte in
// the first 8000 bytes. GitHub shows no patch for it.
func isBinary(content string) bool {
	return bytes.IndexByte([]byte(content[:min(len(content), 8000)]), 0) >= 0
}

// serveGit answers git's smart-HTTP protocol for upload-pack (clone and
// fetch) at /{owner}/{repo}.git, through go-git's server side: GET
// info/refs?service=git-upload-pack, then POST git-upload-pack.
func (g *GitHub) serveGit(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	i := strings.Index(p, ".git/")
	name, action := p[:i], p[i+len(".git/"):]
	g.mu.Lock()
	repo, ok := g.repos[name]
	ok = ok && repo.public && g.repoStatus[name] == 0
	g.mu.Unlock()
	if !ok {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		return
	}
	ep, err := transport.NewEndpoint("/" + name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	srv := server.NewServer(server.MapLoader{ep.String(): storer.Storer(repo.st)})
	sess, err := srv.NewUploadPackSession(ep, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer sess.Close()
	switch {
	case action == "info/refs" && r.Method == http.MethodGet && r.URL.Query().Get("service") == "git-upload-pack":
		ar, err := sess.AdvertisedReferencesContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ar.Prefix = [][]byte{[]byte("# service=git-upload-pack"), pktline.Flush}
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		w.Header().Set("Cache-Control", "no-cache")
		_ = ar.Encode(w)
	case action == "git-upload-pack" && r.Method == http.MethodPost:
		req := packp.NewUploadPackRequest()
		if err := req.Decode(http.MaxBytesReader(w, r.Body, 1<<20)); err != nil {
			http.Error(w, "bad upload-pack request: "+err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := sess.UploadPack(r.Context(), req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer resp.Close()
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		_ = resp.Encode(w)
	default:
		http.Error(w, "Not Found", http.StatusNotFound)
	}
}

// unifiedPatch is GitHub's patch field for a file going from old to new: a
// line diff (go-git's, as git's) in unified hunks with 3 lines of context,
// without the file header, as GitHub shows it.
func unifiedPatch(old, new string, existed bool) (patch string, additions, deletions int) {
	var chunks []diff.Chunk
	for _, d := range godiff.Do(old, new) {
		op := diff.Equal
		n := strings.Count(d.Text, "\n")
		if !strings.HasSuffix(d.Text, "\n") {
			n++
		}
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			op, additions = diff.Add, additions+n
		case diffmatchpatch.DiffDelete:
			op, deletions = diff.Delete, deletions+n
		}
		chunks = append(chunks, patchChunk{content: d.Text, op: op})
	}
	fp := filePatch{chunks: chunks, to: &patchFile{path: "f", hash: plumbing.NewHash(blobSHA(new))}}
	if existed {
		fp.from = &patchFile{path: "f", hash: plumbing.NewHash(blobSHA(old))}
	}
	var b strings.Builder
	if err := diff.NewUnifiedEncoder(&b, 3).Encode(onePatch{fp}); err != nil {
		return "", additions, deletions
	}
	out := b.String()
	if i := strings.Index(out, "@@"); i >= 0 {
		out = out[i:]
	} else {
		out = ""
	}
	return strings.TrimSuffix(out, "\n"), additions, deletions
}

type patchChunk struct {
	content string
	op      diff.Operation
}

func (c patchChunk) Content() string      { return c.content }
func (c patchChunk) Type() diff.Operation { return c.op }

type patchFile struct {
	path string
	hash plumbing.Hash
}

func (f *patchFile) Hash() plumbing.Hash     { return f.hash }
func (f *patchFile) Mode() filemode.FileMode { return filemode.Regular }
func (f *patchFile) Path() string            { return f.path }

type filePatch struct {
	from, to *patchFile
	chunks   []diff.Chunk
}

func (p filePatch) IsBinary() bool { return false }
func (p filePatch) Files() (diff.File, diff.File) {
	var from, to diff.File
	if p.from != nil {
		from = p.from
	}
	if p.to != nil {
		to = p.to
	}
	return from, to
}
func (p filePatch) Chunks() []diff.Chunk { return p.chunks }

type onePatch struct{ fp filePatch }

func (p onePatch) FilePatches() []diff.FilePatch { return []diff.FilePatch{p.fp} }
func (p onePatch) Message() string               { return "" }
