//go:build !cgo

package main

func cgoParkers() []func() { return nil }
