package main

import (
	"fmt"
	"os"
	"time"
)

var total int

//go:noinline
func step(i int) int { return i * 2 }

func main() {
	fmt.Println(os.Getpid())
	start := time.Now()
	for i := 0; i < 2000000; i++ {
		total += step(i)
	}
	fmt.Println("done", total, time.Since(start))
}
