package repo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSettingsRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := newTestRepo(t, dir)
	defer r.Close()

	if names, err := r.Settings(ctx, nil); err != nil || len(names) != 0 {
		t.Fatalf("empty repository: %v %v", names, err)
	}
	if _, err := r.LoadSetting(ctx, "org/prod"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing setting: %v", err)
	}
	secret := []byte("hunter2-very-secret-value")
	if err := r.SaveSetting(ctx, "org/prod", secret); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSetting(ctx, "org/dev", []byte("dev")); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSetting(ctx, "retention", nil); err != nil {
		t.Fatal(err)
	}
	got, err := r.LoadSetting(ctx, "org/prod")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("load: %q %v", got, err)
	}
	// Replace.
	if err := r.SaveSetting(ctx, "org/dev", []byte("dev2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.LoadSetting(ctx, "org/dev"); string(got) != "dev2" {
		t.Fatalf("replaced: %q", got)
	}
	names, err := r.Settings(ctx, nil)
	if err != nil || !reflect.DeepEqual(names, []string{"org/dev", "org/prod", "retention"}) {
		t.Fatalf("list: %v %v", names, err)
	}

	// Neither the data nor the names appear in any file of the repository.
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, s := range [][]byte{secret, []byte("org/prod"), []byte("retention")} {
			if bytes.Contains(b, s) {
				t.Errorf("%s contains %q in plain text", p, s)
			}
		}
		return nil
	})

	// A reopened repository (read-only, no lock) reads them.
	r.Close()
	r2, err := Open(ctx, dir, Options{Password: []byte("pw"), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r2.LoadSetting(ctx, "org/prod"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("reopened: %q %v", got, err)
	}
	if err := r2.DeleteSetting(ctx, "org/prod"); err != nil {
		t.Fatal(err)
	}
	if err := r2.DeleteSetting(ctx, "org/prod"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := r2.LoadSetting(ctx, "org/prod"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestSettingNames(t *testing.T) {
	for _, ok := range []string{"org/prod", "a", "org/my.sandbox_1-x", "retention"} {
		if err := ValidSettingName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/org", "org/", "org//x", "org/..", "org/a..b", "-x", "org/a b", "org\\x", strings.Repeat("a", 65)} {
		if ValidSettingName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	ctx := context.Background()
	r := newTestRepo(t, t.TempDir())
	defer r.Close()
	if err := r.SaveSetting(ctx, "../escape", []byte("x")); err == nil {
		t.Fatal("bad name saved")
	}
	if err := r.SaveSetting(ctx, "big", make([]byte, MaxSettingSize+1)); err == nil {
		t.Fatal("oversized setting saved")
	}
}

// A settings file copied onto another setting's file name must not be read
// as that setting, and damage must be reported by Settings and Check.
func TestSettingsSwapAndDamage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := newTestRepo(t, dir)
	defer r.Close()
	if err := r.SaveSetting(ctx, "org/a", []byte("A")); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSetting(ctx, "org/b", []byte("B")); err != nil {
		t.Fatal(err)
	}
	fa := filepath.Join(dir, "settings", r.settingHandle("org/a").Name)
	fb := filepath.Join(dir, "settings", r.settingHandle("org/b").Name)
	rep, err := r.Check(ctx, false, nil)
	if err != nil || !rep.OK() || rep.Settings != 2 {
		t.Fatalf("check before: %+v %v", rep, err)
	}

	a, _ := os.ReadFile(fa)
	if err := os.WriteFile(fb, a, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := r.LoadSetting(ctx, "org/b"); err == nil {
		t.Fatalf("swapped file read as org/b: %q", got)
	}
	var bad []string
	names, err := r.Settings(ctx, func(file string, err error) { bad = append(bad, file) })
	if err != nil || !reflect.DeepEqual(names, []string{"org/a"}) || len(bad) != 1 {
		t.Fatalf("list after swap: %v %v bad=%v", names, err, bad)
	}
	rep, err = r.Check(ctx, false, nil)
	if err != nil || rep.OK() || !strings.Contains(rep.Problems[0].Message, "settings file") {
		t.Fatalf("check after swap: %+v %v", rep, err)
	}

	// Overwriting restores it; a flipped byte is caught too.
	if err := r.SaveSetting(ctx, "org/b", []byte("B")); err != nil {
		t.Fatal(err)
	}
	a[len(a)-1] ^= 1
	os.WriteFile(fa, a, 0o600)
	if _, err := r.LoadSetting(ctx, "org/a"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("damaged file: %v", err)
	}
}
