// checkfix is the fixture of goscope check, opt and diff: functions that satisfy and violate
// every rule of goscope.toml and every //goscope: directive. Lines marked `// want RULE...`
// are where goscope check must report a violation of RULE; every other function is a
// satisfying twin and must produce none. `// want RULE fn=NAME` names the function the
// violation is reported for when it is not the enclosing one.
package main

import (
	"fmt"
	"os"

	"example.com/checkfix/hot"
	"example.com/checkfix/stats"
)

func main() {
	n := len(os.Args) + 3
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	m := map[int]int{1: 2}
	p := &hot.Point{X: int64(n)}
	var total int64
	hot.BoxInt(int64(n))
	hot.BoxPointer(p)
	f := hot.EscapingClosure()
	total += int64(f())
	total += int64(hot.LocalClosure(n))
	total += int64(hot.AllocAppend(s, n)[0])
	total += int64(hot.AllocCopy(s))
	total += hot.IfaceConvert(int64(n)).(int64)
	total += hot.IfaceConcrete(int64(n))
	hot.LockHotLoop(n)
	hot.LockLocalLoop(n)
	hot.LockAllowed(n)
	total += int64(hot.RangeSum(s))
	total += int64(hot.IndexSum(s, n))
	hot.WBStorePointer(p)
	hot.WBStoreInt(int64(n))
	total += int64(hot.RTMapLookup(m, n))
	total += int64(hot.RTSliceLookup(s, n))
	total += int64(hot.TwoCalls(n, n))
	total += int64(hot.ClosureTwice(s, s[1:]))
	total += int64(hot.FrameBig(n))
	total += int64(hot.FrameSmall(n))
	total += int64(hot.SizeBig(n))
	total += int64(hot.SizeSmall(n))
	hot.DeferUnlock()
	hot.PlainUnlock()
	total += int64(hot.DiffAlloc(n))
	total += int64(hot.DiffInline(n))
	hot.DiffAtomic(n)
	total += int64(len(hot.AppendTwice(s)))
	total += int64(len(hot.BuildSlice(n)))
	it, name := hot.TwoOnOneLine(os.Args[0])
	total += int64(len(it.Name) + len(name))
	total += int64(hot.PickTwice(s, 1, 2))
	total += stats.Hits()
	fmt.Println(total)
}
