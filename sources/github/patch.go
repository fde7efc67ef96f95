package github

import (
	"errors"
	"strconv"
	"strings"
)

// AddedLines are the lines a unified diff adds, joined with "\n" so the
// scanner sees them as one buffer, with the new-file line of each.
type AddedLines struct {
	Text  []byte
	Lines []int // Lines[i] is the new-file line of buffer line i+1
}

// NewLine maps a 1-based line of Text to its line in the new file (0 if out
// of range).
func (a AddedLines) NewLine(bufLine int) int {
	if bufLine < 1 || bufLine > len(a.Lines) {
		return 0
	}
	return a.Lines[bufLine-1]
}

var errBadHunk = errors.New("malformed hunk header")

// ParsePatch reads the "patch" of a GitHub commit/compare file: unified diff
// hunks ("@@ -a,b +c,d @@ section") without file headers. It keeps only
// added lines, each mapped to its line in the new file. Lines before the
// first hunk are ignored; a malformed hunk header is an error (the lines
// collected so far are returned with it).
func ParsePatch(patch string) (AddedLines, error) {
	var out AddedLines
	newLine := 0
	inHunk := false
	var b strings.Builder
	for len(patch) > 0 {
		var line string
		if i := strings.IndexByte(patch, '\n'); i >= 0 {
			line, patch = patch[:i], patch[i+1:]
		} else {
			line, patch = patch, ""
		}
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "@@") {
			n, err := hunkNewStart(line)
			if err != nil {
				out.Text = []byte(b.String())
				return out, err
			}
			newLine, inHunk = n, true
			continue
		}
		if !inHunk || line == "" {
			// An empty line inside a hunk is a context line whose leading
			// space was stripped by some tool: it still occupies a line.
			if inHunk {
				newLine++
			}
			continue
		}
		switch line[0] {
		case '+':
			if b.Len() > 0 || len(out.Lines) > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(line[1:])
			out.Lines = append(out.Lines, newLine)
			newLine++
		case ' ':
			newLine++
		case '-', '\\':
			// removed line; "\ No newline at end of file"
		default:
			newLine++
		}
	}
	out.Text = []byte(b.String())
	return out, nil
}

// hunkNewStart reads c from "@@ -a[,b] +c[,d] @@".
func hunkNewStart(h string) (int, error) {
	i := strings.Index(h, " +")
	if i < 0 {
		return 0, errBadHunk
	}
	rest := h[i+2:]
	end := strings.IndexAny(rest, ", ")
	if end < 0 {
		return 0, errBadHunk
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil || n < 0 {
		return 0, errBadHunk
	}
	if n == 0 {
		// "+0,0": the new file is empty; no added line follows.
		n = 1
	}
	return n, nil
}
