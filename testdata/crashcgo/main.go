// crashcgo is the cgo post-mortem fixture: a goroutine blocked in C while Go panics, and a
// fault inside C code. Run with GOTRACEBACK=crash and `ulimit -c unlimited`.
//
//	crashcgo blocked|segv
package main

/*
#include <unistd.h>

static void block_in_c(void) {
	for (;;) {
		pause();
	}
}

static int deref(int *p) {
	return *p + 1;
}

static int fault_in_c(void) {
	return deref((int *)0);
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

//go:noinline
func callC() {
	C.block_in_c()
}

//go:noinline
func faultC() int {
	return int(C.fault_in_c())
}

func main() {
	debug.SetTraceback("crash")
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crashcgo blocked|segv")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "blocked":
		go callC()
		for i := 0; i < 20; i++ {
			runtime.Gosched()
		}
		time.Sleep(100 * time.Millisecond)
		panic("crash while a goroutine is in C")
	case "segv":
		fmt.Println(faultC())
	}
}
