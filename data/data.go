// Package data holds the files a department edits — message catalogs, understanding examples,
// the knowledge base (amounts, groups, documents, contacts) and the demo records — embedded in
// the binary, and lets a directory override them file by file (configuration: DATA_DIR).
//
// A file present in the override directory replaces the embedded file with the same relative
// path; every other file comes from the embedded copy. So a department can copy one file, edit
// it, and restart.
package data

import (
	"embed"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
)

//go:embed all:files
var embedded embed.FS

// Embedded returns the files shipped with the binary.
func Embedded() fs.FS {
	sub, err := fs.Sub(embedded, "files")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder exists
	}
	return sub
}

// Open returns the data files with dir overriding the embedded ones ("" means embedded only).
// It fails when dir is set but is not a readable directory.
func Open(dir string) (fs.FS, error) {
	if dir == "" {
		return Embedded(), nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: errors.New("not a directory")}
	}
	return overlay{top: os.DirFS(dir), base: Embedded()}, nil
}

// overlay reads a file from top when it exists there, else from base.
type overlay struct{ top, base fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	f, err := o.top.Open(name)
	if err == nil {
		if st, serr := f.Stat(); serr == nil && st.IsDir() {
			// Directories come from base so that listing shows every embedded file;
			// ReadDir below merges the override directory's own files.
			f.Close()
			return o.base.Open(name)
		}
		return f, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return o.base.Open(name)
}

// ReadDir lists a directory as the union of both layers.
func (o overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	seen := map[string]bool{}
	var out []fs.DirEntry
	top, terr := fs.ReadDir(o.top, name)
	for _, e := range top {
		seen[e.Name()] = true
		out = append(out, e)
	}
	base, berr := fs.ReadDir(o.base, name)
	for _, e := range base {
		if !seen[e.Name()] {
			out = append(out, e)
		}
	}
	if terr != nil && berr != nil {
		return nil, berr
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}
