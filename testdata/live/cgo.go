//go:build cgo

package main

/*
#include <unistd.h>

static void block_in_c(void) {
	for (;;) {
		pause();
	}
}
*/
import "C"

//go:noinline
func parkInC() {
	parked.Done()
	C.block_in_c()
}

func cgoParkers() []func() { return []func(){parkInC} }
