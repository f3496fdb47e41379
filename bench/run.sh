#!/usr/bin/env bash
# run.sh runs the whole benchmark from the module root and writes the
# report to bench/results.md (and stdout). Extra arguments go to the Go
# program: bench/run.sh -runs 9 -skip memory,boot
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./bench -o bench/results.md "$@"
