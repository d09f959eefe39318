package data

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestOverlayPrefersDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "i18n", "vi"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "i18n", "vi", "core.toml"), []byte("x = \"override\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fsys, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, "i18n/vi/core.toml")
	if err != nil || string(b) != "x = \"override\"\n" {
		t.Fatalf("override not read: %q %v", b, err)
	}
	// A file not overridden still comes from the embedded copy.
	if _, err := fs.ReadFile(fsys, "i18n/en/core.toml"); err != nil {
		t.Fatalf("embedded file missing through overlay: %v", err)
	}
	entries, err := fs.ReadDir(fsys, "i18n/vi")
	if err != nil || len(entries) < 1 {
		t.Fatalf("ReadDir = %v, %v", entries, err)
	}
}

func TestOpenRejectsMissingDir(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("want error for a missing directory")
	}
}
