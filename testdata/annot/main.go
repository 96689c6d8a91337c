// annot is the fixture for `goscope objdump --annotate`: each line marked `// want: CLASSES`
// must carry an annotation of every listed class (on amd64 and arm64, with every toolchain),
// and the functions marked `// none: CLASSES` must carry none of them anywhere. Classes are
// the labels goscope prints: alloc, map, chan, iface, write barrier, bounds check, atomic,
// stack check, panic, go.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
)

type point struct{ x, y int }

var sink any
var global *point
var counter int64
var flag32 uint32

//go:noinline
func allocate(n int) []*point {
	p := &point{n, n} // want: alloc
	s := make([]*point, n) // want: alloc
	s = append(s, p) // want: alloc
	return s
}

//go:noinline
func concat(a, b string) string {
	return a + b // want: alloc
}

//go:noinline
func convert(n int) any {
	return n // want: alloc, iface
}

//go:noinline
func assert(v any) fmt.Stringer {
	return v.(fmt.Stringer) // want: iface
}

//go:noinline
func maps(m map[int]int, k int) int {
	m[k] = k + 1 // want: map
	v := m[k+2] // want: map
	delete(m, k+3) // want: map
	return v
}

//go:noinline
func chans(c chan int, v int) int {
	c <- v // want: chan
	return <-c // want: chan
}

//go:noinline
func selects(a, b chan int) int {
	select { // want: chan
	case v := <-a:
		return v
	case v := <-b:
		return v
	}
}

//go:noinline
func atomics(d int64) int64 {
	atomic.StoreUint32(&flag32, 1) // want: atomic
	return atomic.AddInt64(&counter, d) // want: atomic
}

//go:noinline
func cas(old, new int64) bool {
	return atomic.CompareAndSwapInt64(&counter, old, new) // want: atomic
}

//go:noinline
func index(xs []int, i int) int {
	return xs[i] // want: bounds check
}

//go:noinline
func store(p *point) {
	global = p // want: write barrier
}

//go:noinline
func spawn(c chan int) {
	go func() { c <- 1 }() // want: go
}

//go:noinline
func sum(xs []int) int { // none: alloc, atomic, map, chan
	t := 0
	for _, x := range xs {
		t += x * x
	}
	return t
}

//go:noinline
func pure(a, b int) int { // none: alloc, atomic, bounds check, write barrier
	return a*b + a - b
}

func main() {
	n := len(os.Args)
	s := allocate(n)
	m := map[int]int{}
	c := make(chan int, 1)
	spawn(c)
	<-c
	sink = convert(n)
	if n > 5 {
		sink = assert(sink)
	}
	fmt.Println(len(s), concat("a", strconv.Itoa(n)), maps(m, n), chans(c, n), atomics(int64(n)),
		cas(1, 2), index([]int{1, 2, 3}, n-1), sum([]int{n}), pure(n, n))
	store(&point{n, n})
	if n > 9 {
		fmt.Println(selects(c, c))
	}
}
