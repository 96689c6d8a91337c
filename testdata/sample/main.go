// The sample that ships with goscope: a small program with the things goscope points out —
// inlined calls, heap allocations, map and channel operations, an atomic counter, bounds
// checks. Rebuild with ./build.sh (the binary is committed so the README's first command needs
// no Go toolchain).
package main

import (
	"os"
	"strconv"
	"sync/atomic"
)

type Point struct{ X, Y int }

var hits atomic.Int64

// norm1 is small enough to be inlined into its callers.
func norm1(p Point) int {
	if p.X < 0 {
		p.X = -p.X
	}
	if p.Y < 0 {
		p.Y = -p.Y
	}
	return p.X + p.Y
}

// newPoint escapes: every call allocates.
//
//go:noinline
func newPoint(x, y int) *Point { return &Point{x, y} }

// sum indexes with a loop variable the compiler cannot prove in range: a bounds check.
//
//go:noinline
func sum(xs []int, idx []int) int {
	t := 0
	for _, i := range idx {
		t += xs[i]
	}
	return t
}

// count updates a map and an atomic counter.
//
//go:noinline
func count(m map[string]int, key string) {
	m[key]++
	hits.Add(1)
}

func main() {
	m := make(map[string]int)
	results := make(chan int, 4)
	for i := 0; i < 4; i++ {
		go func(i int) {
			p := newPoint(i, -i)
			results <- norm1(*p)
		}(i)
	}
	total := 0
	for i := 0; i < 4; i++ {
		v := <-results
		count(m, strconv.Itoa(v))
		total += v
	}
	total += sum([]int{1, 2, 3, 4}, []int{0, 3})
	os.Stdout.WriteString("total " + strconv.Itoa(total) + ", hits " + strconv.Itoa(int(hits.Load())) + "\n")
}
