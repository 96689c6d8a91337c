#!/bin/sh
# Rebuilds the committed sample binary: linux/amd64, no DWARF (smaller), symbols kept.
set -e
cd "$(dirname "$0")"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags=-w -o sample .
