// Package artifact holds what the sources that download packed artifacts
// share (npm's tarballs, Docker Hub's image layers): a download client
// without a client-wide timeout, the streaming scan that hashes what it
// unpacks so hits are published only for a body matching its digest, tar
// scanning, marking failures that retrying cannot fix, and bounded
// per-item failure counters. What every source shares stays in package
// sources.
package artifact
