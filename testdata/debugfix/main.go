// debugfix is the fixture of goscope's debugger tests: small functions at known lines that a
// scripted session breaks in, watches and steps through, and a program that says what it did.
//
//	debugfix [-dir DIR] MODE
//
// Modes:
//   - calls: tick(i) then wide(…, i) for i = 0..N-1 (N = -n, default 1000), each tick counting
//     in `calls`; then add() inlined at three call sites; then writes "done CALLS" to
//     DIR/result.
//   - watch: a goroutine (its id written to DIR/writer) sets state.value = 1, 2, 3 at the line
//     marked `// the write`, once a second after DIR/go exists, and state.value's address is in
//     DIR/addr.
//   - hot: tick(i) for i = 0..N-1 as fast as it can, then prints the time it took to DIR/result.
//   - fork: runs itself with "child" (os/exec: fork and exec), waits for it.
//   - child: calls childWork() and exits.
//   - park: parks forever in park() (for attach), after writing DIR/ready.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

var (
	dir   = flag.String("dir", ".", "directory for the files the program writes")
	n     = flag.Int("n", 1000, "calls in the calls and hot modes")
	calls int
	sum   int
	state struct {
		pad   [3]int64
		value int64
		other int64
	}
)

//go:noinline
func tick(i int) int {
	calls++
	sum += i
	return sum
}

// wide has more integer arguments than amd64 passes in registers (nine): j arrives in the
// caller's frame, a stack slot at a fixed offset from the frame address.
//
//go:noinline
func wide(a, b, c, d, e, f, g, h, k, j int) int {
	return a + b + c + d + e + f + g + h + k + j
}

// add is inlined at each of its three call sites.
func add(a, b int) int {
	return a*2 + b
}

//go:noinline
func first(x int) int { return add(x, 1) }

//go:noinline
func second(x int) int { return add(x, 2) * x }

//go:noinline
func third(x int) int { return add(add(x, 3)*x, 4) }

//go:noinline
func setValue(v int64) {
	state.value = v // the write
}

//go:noinline
func childWork() int {
	return len(os.Args) * 7
}

//go:noinline
func park() {
	select {}
}

func write(name, text string) {
	p := filepath.Join(*dir, name)
	os.WriteFile(p+".tmp", []byte(text), 0o644)
	os.Rename(p+".tmp", p)
}

func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return strings.Fields(string(buf))[1]
}

func main() {
	flag.Parse()
	switch flag.Arg(0) {
	case "calls":
		for i := 0; i < *n; i++ {
			tick(i)
			wide(0, 0, 0, 0, 0, 0, 0, 0, 0, i)
		}
		r := first(1) + second(2) + third(3)
		write("result", fmt.Sprintf("done %d %d\n", calls, r))
	case "watch":
		write("addr", fmt.Sprintf("%#x\n", uintptr(unsafePointer(&state.value))))
		done := make(chan bool)
		go func() {
			write("writer", goid()+"\n")
			for {
				if _, err := os.Stat(filepath.Join(*dir, "go")); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			for v := int64(1); v <= 3; v++ {
				setValue(v)
				time.Sleep(100 * time.Millisecond)
			}
			done <- true
		}()
		<-done
		write("result", fmt.Sprintf("done %d\n", state.value))
	case "hot":
		start := time.Now()
		for i := 0; i < *n; i++ {
			tick(i)
		}
		write("result", fmt.Sprintf("done %d %d\n", calls, time.Since(start).Nanoseconds()))
	case "fork":
		cmd := exec.Command(os.Args[0], "-dir", *dir, "child")
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stderr
		err := cmd.Run()
		write("result", fmt.Sprintf("child %v\n", err))
	case "child":
		write("child", fmt.Sprintf("%d\n", childWork()))
	case "park":
		write("ready", fmt.Sprintf("pid %d\n", os.Getpid()))
		park()
	default:
		fmt.Fprintln(os.Stderr, "usage: debugfix [-dir DIR] calls|watch|hot|fork|child|park")
		os.Exit(2)
	}
}
