// cgoprog is the cgo fixture: Go calling C and C calling back into Go.
package main

/*
#include <stdint.h>

extern int64_t goAdd(int64_t a, int64_t b);

static int64_t c_mul(int64_t a, int64_t b) { return a * b; }

static int64_t c_through_go(int64_t a) { return goAdd(a, 40); }
*/
import "C"

import "fmt"

//export goAdd
func goAdd(a, b C.int64_t) C.int64_t { return a + b }

func main() {
	x := C.c_mul(6, 7)
	y := C.c_through_go(2)
	fmt.Println(int64(x), int64(y))
}
