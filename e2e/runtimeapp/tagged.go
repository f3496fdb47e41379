//go:build rtcheck

package main

// The spec's app.build.tags has rtcheck.
func init() { tagged = "yes" }
