package debarchive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/tinyboot/tinyboot/internal/cache"
	"github.com/tinyboot/tinyboot/internal/debtest"
)

// kernelSuites are two suites in the shape of Debian's: the release and
// a security suite with a newer kernel.
func kernelSuites() []debtest.Suite {
	return []debtest.Suite{
		{Name: "stable", Pkgs: []debtest.Pkg{
			{Name: "linux-image-amd64", Version: "6.1.158-1", Arch: "amd64", Depends: "linux-image-6.1.0-40-amd64 (= 6.1.158-1)"},
			{Name: "linux-image-6.1.0-40-amd64", Version: "6.1.158-1", Arch: "amd64", Depends: "kmod, linux-base (>= 4.3~), initramfs-tools | linux-initramfs-tool"},
			{Name: "linux-image-arm64", Version: "6.1.158-1", Arch: "arm64"},
			{Name: "kmod", Version: "30+20221128-1", Arch: "amd64"},
			{Name: "systemd-boot-efi", Version: "252.39-1~deb12u1", Arch: "amd64"},
		}},
		{Name: "stable-security", ValidUntil: debtest.Now.Add(7 * 24 * time.Hour), Pkgs: []debtest.Pkg{
			{Name: "linux-image-amd64", Version: "6.1.192-3", Arch: "amd64", Depends: "linux-image-6.1.0-57-amd64 (= 6.1.192-3)"},
			{Name: "linux-image-6.1.0-57-amd64", Version: "6.1.192-3", Arch: "amd64", Depends: "kmod"},
			// Older than stable's: newest wins whatever the suite order.
			{Name: "systemd-boot-efi", Version: "252.38-1~deb12u1", Arch: "amd64"},
		}},
	}
}

func isLinuxImage(n string) bool { return strings.HasPrefix(n, "linux-image-") }

func names(pkgs []*Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Name+"="+p.Version+"@"+p.From.Suite)
	}
	return out
}

// TestResolveAcrossSuites resolves the newest version over two suites,
// follows the meta package's Depends, and downloads the .debs.
func TestResolveAcrossSuites(t *testing.T) {
	a := debtest.NewArchive(t, kernelSuites()...)
	ctx := context.Background()
	for _, order := range [][]string{{"stable", "stable-security"}, {"stable-security", "stable"}} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			c := client(a, t.TempDir(), order...)
			pkgs, err := c.Resolve(ctx, "linux-image-amd64", "amd64", isLinuxImage)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"linux-image-amd64=6.1.192-3@stable-security", "linux-image-6.1.0-57-amd64=6.1.192-3@stable-security"}
			if got := names(pkgs); !slices.Equal(got, want) {
				t.Fatalf("resolved %v, want %v", got, want)
			}
			stub, err := c.Find(ctx, "systemd-boot-efi", "amd64", "")
			if err != nil || stub.Version != "252.39-1~deb12u1" || stub.From.Suite != "stable" {
				t.Fatalf("systemd-boot-efi: %+v, %v; want 252.39-1~deb12u1 from stable", stub, err)
			}
			for _, p := range pkgs {
				path, err := c.Download(ctx, PinOf(p))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(path)
				if !bytes.Equal(got, a.Get(p.Filename)) {
					t.Errorf("%s: downloaded %q", p.Name, got)
				}
			}
		})
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0+deb12u1", -1},
		{"1:0.1", "2.0", 1},
		{"6.1.158-1", "6.1.192-3", -1},
		{"6.1.192-3", "6.1.19-3", 1},
		{"252.39-1~deb12u1", "252.39-1", -1},
		{"2.0-1", "2.0-1.1", -1},
		{"1.0a", "1.0", 1},
	}
	for _, tt := range tests {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compare(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := compareVersions(tt.b, tt.a); got != -tt.want {
			t.Errorf("compare(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

// TestNewestInOneSuite checks ordering within one index, where a naive
// string comparison would pick 6.1.9.
func TestNewestInOneSuite(t *testing.T) {
	a := debtest.NewArchive(t, debtest.Suite{Name: "s", Pkgs: []debtest.Pkg{
		{Name: "k", Version: "6.1.9-1", Arch: "amd64"},
		{Name: "k", Version: "6.1.10-1", Arch: "amd64"},
		{Name: "k", Version: "6.1.10-1~bpo1", Arch: "amd64"},
		{Name: "k", Version: "6.1.10-1", Arch: "arm64"},
	}})
	c := client(a, t.TempDir(), "s")
	p, err := c.Find(context.Background(), "k", "amd64", "")
	if err != nil || p.Version != "6.1.10-1" || p.Architecture != "amd64" {
		t.Fatalf("Find = %+v, %v; want 6.1.10-1 amd64", p, err)
	}
	p, err = c.Find(context.Background(), "k", "amd64", "6.1.9-1")
	if err != nil || p.Version != "6.1.9-1" {
		t.Fatalf("Find exact = %+v, %v", p, err)
	}
}

// TestErrors feeds the client every kind of bad archive and checks the
// error names the source and what to do, and that nothing unverified is
// cached.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup changes the archive or the client; it returns the package
		// to resolve.
		setup func(t *testing.T, a *debtest.Archive, c *Client) string
		want  []string
		// clean lists cache directories that must stay empty.
		clean []string
	}{
		{"mirror 404", func(t *testing.T, a *debtest.Archive, c *Client) string {
			c.Sources[0].URL = a.Server.URL + "/elsewhere"
			return "linux-image-amd64"
		}, []string{"/elsewhere suite stable (from test)", "404", "check the URL and the suite"}, []string{ReleasesKind, IndexesKind}},
		{"mirror unreachable", func(t *testing.T, a *debtest.Archive, c *Client) string {
			c.Sources[0].URL = "http://127.0.0.1:1/debian"
			return "linux-image-amd64"
		}, []string{"archive http://127.0.0.1:1/debian suite stable", "reachable", "network"}, []string{ReleasesKind, IndexesKind}},
		{"unknown signer", func(t *testing.T, a *debtest.Archive, c *Client) string {
			c.Keyring = openpgpList(debtest.NewKey(t, "someone else"))
			return "linux-image-amd64"
		}, []string{"suite stable", "signed by none of the trusted keys", "keyring", "nothing was cached"}, []string{ReleasesKind, IndexesKind}},
		{"tampered signed line", func(t *testing.T, a *debtest.Archive, c *Client) string {
			ir := a.Get("dists/stable/InRelease")
			a.Set("dists/stable/InRelease", bytes.Replace(ir, []byte("Codename: stable"), []byte("Codename: stablf"), 1))
			return "linux-image-amd64"
		}, []string{"suite stable", "does not verify", "nothing was cached"}, []string{ReleasesKind, IndexesKind}},
		{"corrupt signature", func(t *testing.T, a *debtest.Archive, c *Client) string {
			ir := a.Get("dists/stable/InRelease")
			head := []byte("-----BEGIN PGP SIGNATURE-----\n\n")
			i := bytes.Index(ir, head) + len(head) + 20
			bad := bytes.Clone(ir)
			bad[i] ^= 'A' ^ 'B'
			if bad[i] == ir[i] {
				t.Fatal("signature byte not changed")
			}
			a.Set("dists/stable/InRelease", bad)
			return "linux-image-amd64"
		}, []string{"suite stable", "does not verify", "nothing was cached"}, []string{ReleasesKind, IndexesKind}},
		{"not signed", func(t *testing.T, a *debtest.Archive, c *Client) string {
			a.Set("dists/stable/InRelease", []byte("Suite: stable\nSHA256:\n"))
			return "linux-image-amd64"
		}, []string{"suite stable", "not a clearsigned OpenPGP message"}, []string{ReleasesKind, IndexesKind}},
		{"expired Valid-Until", func(t *testing.T, a *debtest.Archive, c *Client) string {
			c.Now = func() time.Time { return debtest.Now.Add(8 * 24 * time.Hour) }
			c.Sources[0].Suites = []string{"stable-security"}
			return "linux-image-amd64"
		}, []string{"suite stable-security", "expired", "Valid-Until"}, []string{ReleasesKind, IndexesKind}},
		{"index hash mismatch", func(t *testing.T, a *debtest.Archive, c *Client) string {
			p := "dists/stable/main/binary-amd64/Packages.gz"
			a.Set(p, debtest.Gzip(t, []byte("Package: evil\nVersion: 1\nFilename: pool/e.deb\nSHA256: "+strings.Repeat("0", 64)+"\n")))
			return "linux-image-amd64"
		}, []string{"suite stable", "main/binary-amd64/Packages.gz", "differs from the InRelease", "nothing was cached"}, []string{"indexes"}},
		{"deb sha256 mismatch", func(t *testing.T, a *debtest.Archive, c *Client) string {
			a.Set("pool/main/l/linux-image-amd64/linux-image-amd64_6.1.158-1_amd64.deb", []byte("deb of linux-image-amd64 6.1.158-X"))
			return "linux-image-amd64"
		}, []string{"linux-image-amd64 6.1.158-1", "sha256", "nothing was cached"}, []string{"debs"}},
		{"no such package", func(t *testing.T, a *debtest.Archive, c *Client) string {
			return "linux-image-amd46"
		}, []string{"package linux-image-amd46 is not in the archive for amd64", "did you mean linux-image-amd64"}, []string{"debs"}},
		{"not for this architecture", func(t *testing.T, a *debtest.Archive, c *Client) string {
			return "linux-image-arm64"
		}, []string{"package linux-image-arm64", "exists for arm64 only"}, []string{"debs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := debtest.NewArchive(t, kernelSuites()...)
			cache := t.TempDir()
			c := client(a, cache, "stable")
			name := tt.setup(t, a, c)
			pkgs, err := c.Resolve(ctx, name, "amd64", isLinuxImage)
			for _, p := range pkgs {
				if err != nil {
					break
				}
				_, err = c.Download(ctx, PinOf(p))
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, dir := range append(tt.clean, DebsKind) {
				if files := cachedUnder(t, cache, dir); len(files) > 0 {
					t.Errorf("cache %s holds %v after the error", dir, files)
				}
			}
			for _, f := range cachedUnder(t, cache, ".") {
				if strings.HasPrefix(filepath.Base(f), ".") {
					t.Errorf("a partial download was left behind: %s", f)
				}
			}
		})
	}
}

func TestBadInputOutsideTheArchive(t *testing.T) {
	dir := t.TempDir()
	notKeys := filepath.Join(dir, "keys.gpg")
	os.WriteFile(notKeys, []byte("this is not a keyring\n"), 0o644)
	if _, err := ReadKeyring(notKeys); err == nil || !strings.Contains(err.Error(), "keyring "+notKeys+": not an OpenPGP keyring") || !strings.Contains(err.Error(), "gpg --export") {
		t.Errorf("ReadKeyring(text) = %v", err)
	}
	for _, u := range []string{"ftp://mirror/debian", "mirror/debian", "http://", ""} {
		if err := CheckURL(u); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
	}
	if err := CheckURL("https://mirror.example/debian"); err != nil {
		t.Error(err)
	}
	if _, err := DebianKeyring(); err != nil {
		t.Errorf("built-in keys: %v", err)
	}
}

// TestLocked checks the two locked cases: with the .debs cached not one
// request is made; with an empty cache only the pinned pool paths are.
func TestLocked(t *testing.T) {
	a := debtest.NewArchive(t, kernelSuites()...)
	ctx := context.Background()
	cache := t.TempDir()
	pkgs, err := client(a, cache, "stable", "stable-security").Resolve(ctx, "linux-image-amd64", "amd64", isLinuxImage)
	if err != nil {
		t.Fatal(err)
	}
	var pins []Pin
	var pool []string
	for _, p := range pkgs {
		pins = append(pins, PinOf(p))
		pool = append(pool, "/debian/"+p.Filename)
	}
	a.Requests()

	empty := client(a, t.TempDir(), "stable", "stable-security")
	for _, pin := range pins {
		if _, err := empty.Download(ctx, pin); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Requests(); !slices.Equal(got, pool) {
		t.Errorf("locked build with an empty cache requested %v, want only %v", got, pool)
	}

	// A new client (a later build) over the cache the download filled.
	warm := client(a, empty.Cache.Root(), "stable", "stable-security")
	a.Requests()
	for _, pin := range pins {
		if _, err := warm.Download(ctx, pin); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Requests(); len(got) != 0 {
		t.Errorf("locked build with the .debs cached requested %v, want nothing", got)
	}
}

// TestPinnedVersionGone checks the error when the archive dropped a
// pinned version, as Debian does with superseded security updates.
func TestPinnedVersionGone(t *testing.T) {
	a := debtest.NewArchive(t, kernelSuites()...)
	pin := Pin{Name: "linux-image-6.1.0-41-amd64", Version: "6.1.162-1", Architecture: "amd64",
		Filename: "pool/main/l/linux-image-6.1.0-41-amd64/linux-image-6.1.0-41-amd64_6.1.162-1_amd64.deb", SHA256: strings.Repeat("ab", 32),
		From: Origin{URL: a.URL(), Suite: "stable-security", Component: "main"}}
	cache := t.TempDir()
	_, err := client(a, cache, "stable").Download(context.Background(), pin)
	var gone *GoneError
	if !errors.As(err, &gone) {
		t.Fatalf("err = %v, want a GoneError", err)
	}
	for _, w := range []string{pin.Name, pin.Version, pin.Filename, pin.SHA256, "--update", "snapshot"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
	if files := cachedUnder(t, cache, "debs"); len(files) > 0 {
		t.Errorf("cached %v", files)
	}
}

// TestIndexReuse checks that a second build reads the cache alone, that a
// day later only InRelease is asked for (the indexes are unchanged, so
// their hashes are), and that Update always asks.
func TestIndexReuse(t *testing.T) {
	a := debtest.NewArchive(t, kernelSuites()...)
	ctx := context.Background()
	cache := t.TempDir()
	resolve := func(c *Client) []string {
		t.Helper()
		if _, err := c.Resolve(ctx, "linux-image-amd64", "amd64", isLinuxImage); err != nil {
			t.Fatal(err)
		}
		return a.Requests()
	}
	first := resolve(client(a, cache, "stable"))
	if !slices.Equal(first, []string{"/debian/dists/stable/InRelease", "/debian/dists/stable/main/binary-amd64/Packages.gz"}) {
		t.Errorf("cold resolve requested %v", first)
	}
	if got := resolve(client(a, cache, "stable")); len(got) != 0 {
		t.Errorf("warm resolve requested %v, want nothing", got)
	}
	later := client(a, cache, "stable")
	later.Now = func() time.Time { return debtest.Now.Add(25 * time.Hour) }
	if got := resolve(later); !slices.Equal(got, []string{"/debian/dists/stable/InRelease"}) {
		t.Errorf("a day later requested %v, want only InRelease", got)
	}
	upd := client(a, cache, "stable")
	upd.Update = true
	if got := resolve(upd); !slices.Equal(got, []string{"/debian/dists/stable/InRelease"}) {
		t.Errorf("Update requested %v, want only InRelease", got)
	}
}

func TestHostSources(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(root, "sources.list"), []byte("# comment\ndeb http://mirror.example/debian stable main contrib\ndeb-src http://mirror.example/debian stable main\ndeb [arch=amd64 signed-by=/nonexistent.gpg] https://other.example/debian/ trixie\nnonsense line\n"), 0o644)
	os.WriteFile(filepath.Join(root, "sources.list.d", "a.sources"), []byte("Types: deb deb-src\nURIs: http://mirror.example/debian\nSuites: stable stable-updates\nComponents: main\n\nTypes: deb\nURIs: http://security.example/debian-security\nSuites: stable-security\nComponents: main\nEnabled: no\n\nTypes: deb\nURIs: file:/srv/local\nSuites: ./\n"), 0o644)
	os.WriteFile(filepath.Join(root, "sources.list.d", "b.list.disabled"), []byte("deb http://ignored.example/x y z\n"), 0o644)
	srcs, err := HostSources(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range srcs {
		got = append(got, s.URL+" "+strings.Join(s.Suites, ",")+" "+strings.Join(s.Components, ",")+" "+filepath.Base(s.Origin))
	}
	want := []string{
		"http://mirror.example/debian stable main,contrib sources.list:2",
		"https://other.example/debian trixie main sources.list:4",
		"http://mirror.example/debian stable,stable-updates main a.sources:1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("HostSources =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if srcs, err := HostSources(filepath.Join(root, "none")); err != nil || len(srcs) != 0 {
		t.Errorf("missing dir: %v %v", srcs, err)
	}
}

// TestHostSourcesInlineKey reads a deb822 source whose Signed-By holds
// the key itself, folded over continuation lines with "." for the blank
// line, and verifies the archive with it.
func TestHostSourcesInlineKey(t *testing.T) {
	a := debtest.NewArchive(t, kernelSuites()...)
	var armored bytes.Buffer
	w, err := armor.Encode(&armored, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Key.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var folded strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(armored.String()), "\n") {
		if line == "" {
			line = "."
		}
		folded.WriteString("\n " + line)
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(root, "sources.list.d", "fake.sources"), []byte("Types: deb\nURIs: "+a.URL()+"\nSuites: stable\nComponents: main\nSigned-By:"+folded.String()+"\n"), 0o644)
	srcs, err := HostSources(root)
	if err != nil || len(srcs) != 1 || len(srcs[0].Keyring) != 1 {
		t.Fatalf("HostSources = %+v, %v; want one source with its inline key", srcs, err)
	}
	c := &Client{Sources: srcs, Keyring: openpgpList(debtest.NewKey(t, "not the archive's")), Cache: cache.Open(t.TempDir()), Now: func() time.Time { return debtest.Now }}
	if _, err := c.Find(context.Background(), "linux-image-amd64", "amd64", ""); err != nil {
		t.Fatalf("the inline key does not verify the archive: %v", err)
	}
}
