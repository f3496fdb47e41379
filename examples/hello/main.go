// Command hello is the example tinyboot app: a small HTTP server that
// shows what the machine it runs on looks like.
//
//	/      hostname, uptime, boot count and the machine's addresses
//	/iso/  the files shipped on the ISO (guest.ISO())
//
// It uses package guest, tinyboot's Go API, for the mount points and the
// stop. When guest.Persistent() names a writable directory, each start counts
// one boot in its file boots. On SIGTERM it shuts down
// gracefully and exits 0, as the agent expects of a well-behaved app.
//
// Its status lines ("hello: listening on :8080", "hello: bye") go to
// stdout verbatim: tests of the whole image wait for them on the console.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tinyboot/tinyboot/guest"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	// Catch the stop before anything else: a power-button press while the
	// app is still starting must stop it gracefully too, not kill it.
	ctx := guest.Context()

	boots := 0
	if dir := guest.Persistent(); dir != "" {
		n, err := countBoot(dir)
		if err != nil {
			// The page still works without a counter; say why it is 0.
			fmt.Fprintln(os.Stderr, "hello: boot counter:", err)
		} else {
			boots = n
			fmt.Printf("hello: boot count %d\n", n)
		}
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: newMux(boots, time.Now()), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("hello: listening on %s\n", addr)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Println("hello: got SIGTERM, shutting down")
	// Stay well inside the agent's default 10s stop_timeout.
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Println("hello: bye")
	return nil
}

func newMux(boots int, started time.Time) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		page := statusPage{
			Greeting: os.Getenv("GREETING"),
			Hostname: host,
			Uptime:   uptime(started).Round(time.Second).String(),
			Boots:    boots,
			Addrs:    addresses(),
			HasISO:   guest.ISO() != "",
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := statusTmpl.Execute(w, page); err != nil {
			fmt.Fprintln(os.Stderr, "hello: render:", err)
		}
	})
	if iso := guest.ISO(); iso != "" {
		mux.Handle("GET /iso/", http.StripPrefix("/iso/", http.FileServer(http.Dir(iso))))
	}
	return mux
}

type statusPage struct {
	Greeting string
	Hostname string
	Uptime   string
	Boots    int
	Addrs    []string
	HasISO   bool
}

var statusTmpl = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Hostname}}</title></head>
<body>
<h1>{{if .Greeting}}{{.Greeting}}{{else}}hello{{end}}</h1>
<ul>
<li>hostname: {{.Hostname}}</li>
<li>uptime: {{.Uptime}}</li>
<li>boot count: {{.Boots}}</li>
<li>addresses: {{range $i, $a := .Addrs}}{{if $i}}, {{end}}{{$a}}{{else}}none{{end}}</li>
</ul>
{{if .HasISO}}<p><a href="/iso/">files on the ISO</a></p>{{end}}
</body></html>
`))

// uptime is the machine's uptime from /proc/uptime, or the process's when
// that cannot be read (say, on a developer's non-Linux laptop).
func uptime(started time.Time) time.Duration {
	b, err := os.ReadFile("/proc/uptime")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if s, err := strconv.ParseFloat(f[0], 64); err == nil {
				return time.Duration(s * float64(time.Second))
			}
		}
	}
	return time.Since(started)
}

// addresses lists the machine's non-loopback addresses in CIDR form.
func addresses() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.IsLoopback() {
			continue
		}
		out = append(out, a.String())
	}
	return out
}

// countBoot increments the counter in dir/boots and returns the new
// count. The new value is written to a temporary file, synced, renamed
// over the old one and the directory synced, so that a power cut leaves
// either the old count or the new one, never a torn file.
func countBoot(dir string) (int, error) {
	path := filepath.Join(dir, "boots")
	n := 0
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if n, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return 0, fmt.Errorf("parse %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return 0, fmt.Errorf("read boot count: %w", err)
	}
	n++

	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", tmp, err)
	}
	if _, err := fmt.Fprintf(f, "%d\n", n); err != nil {
		f.Close()
		return 0, fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("rename boot count: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return 0, fmt.Errorf("sync %s: %w", dir, err)
	}
	return n, nil
}
