package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/tinyboot/tinyboot/guest"
)

// serveHTTP answers on addr until the app ends:
//
//	GET /          "testapp on HOSTNAME"
//	POST /poweroff "asking", then guest.PowerOff()
//	POST /reboot   "asking", then guest.Reboot()
//
// The caller waits for guest.Context to end.
func serveHTTP(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		fmt.Fprintf(w, "testapp on %s\n", host)
	})
	ask := func(what string, fn func() error) {
		mux.HandleFunc("POST /"+what, func(w http.ResponseWriter, r *http.Request) {
			// Answer first: the stop may end the app before the handler
			// returns. A failed request shows on the console instead.
			fmt.Fprintln(w, "asking")
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			say("asking the agent to %s", what)
			if err := fn(); err != nil {
				say("%s: %v", what, err)
			}
		})
	}
	ask("poweroff", guest.PowerOff)
	ask("reboot", guest.Reboot)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	say("listening on %s", addr)
	return nil
}
