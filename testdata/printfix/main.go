// printfix is the fixture of `goscope core … print EXPR`: a goroutine holds locals and
// arguments of every kind Go has, package globals hold the same kinds, and then the program
// crashes (run it with GOTRACEBACK=crash and `ulimit -c unlimited`).
//
//	printfix
//
// The main goroutine panics in main.crash, called from main.inspect, whose arguments and
// locals are live across the call (so the compiler keeps them in its frame). A second
// goroutine, blocked in main.holder, holds another set.
//
// Before crashing the program states what each value is: lines `ORACLE EXPR\tTEXT` on stderr,
// where TEXT is what `print EXPR` must show, computed here with fmt and strconv from the
// values themselves. They are the oracle on toolchains Delve does not support.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

type point struct {
	X, Y int
}

type item struct {
	Name  string
	Qty   int32
	Price float64
}

type inner struct {
	A int8
	B string
	C [2]uint16
}

type outer struct {
	ID    uint32
	In    inner
	P     *point
	Tags  []string
	Ratio float32
}

type order struct {
	ID       int64
	Customer string
	Items    []item
	Next     *order
	Paid     bool
}

// Celsius is a named float type.
type Celsius float64

// Weekday is a named integer type.
type Weekday uint8

type shape interface {
	Area() float64
}

type rect struct {
	W, H float64
}

func (r rect) Area() float64 { return r.W * r.H }

type codeError struct {
	Code int
	Msg  string
}

func (e *codeError) Error() string { return e.Msg + " (" + strconv.Itoa(e.Code) + ")" }

const long = "the quick brown fox jumps over the lazy dog, then runs far away into the forest of numbers 0123456789"

// Package globals of every kind.
var (
	gInt                = -42
	gInt8       int8    = -8
	gInt16      int16   = -1600
	gInt32      int32   = 320000
	gInt64      int64   = -6400000000
	gUint       uint    = 42
	gUint8      uint8   = 200
	gUint16     uint16  = 65000
	gUint32     uint32  = 4000000000
	gUint64     uint64  = 18000000000000000000
	gUintptr    uintptr = 0xdeadbeef
	gFloat32    float32 = 1.25
	gFloat64            = -3.5e-7
	gComplex            = complex(1.5, -2)
	gBool               = true
	gStr                = "hello, world"
	gLong               = long
	gEmpty      string
	gBytes      = []byte("bytes\x00\xff")
	gInts       = []int{1, 2, 3, 5, 8, 13}
	gLongInts   []int
	gNilSlice   []int
	gArr        = [4]int32{10, -20, 30, -40}
	gPoint      = point{X: 3, Y: -4}
	gPtr        = &point{X: 7, Y: 8}
	gNilPtr     *point
	gOuter      = outer{ID: 9, In: inner{A: -1, B: "in", C: [2]uint16{1, 2}}, P: &point{1, 2}, Tags: []string{"a", "bb"}, Ratio: 0.5}
	gItems      = []item{{"apple", 3, 0.5}, {"pear", 1, 1.25}}
	gOrder      *order
	gSmallMap   = map[string]int{"one": 1}
	gMap        = map[string]int{"alpha": 1, "beta": 2, "gamma": 3}
	gIntMap     = map[int]string{}
	gBigMap     = map[string]int{}
	gNilMap     map[string]int
	gStructMap      = map[int]point{7: {X: 70, Y: 77}}
	gAny        any = 42
	gAnyStr     any = "boxed"
	gAnyStruct  any = point{X: 5, Y: 6}
	gAnyPtr     any = &point{X: 9, Y: 10}
	gNilAny     any
	gErr        error = errors.New("boom")
	gCodeErr    error = &codeError{Code: 7, Msg: "bad"}
	gNilErr     error
	gShape      shape = rect{W: 2, H: 3}
	gChan             = make(chan int, 4)
	gNilChan    chan string
	gNilIntChan chan int
	gFunc       = strings.ToUpper
	gNilFunc    func(int) int
	gAdd        func(int) int
	gTime       = time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC)
	gZeroTime   time.Time
	gNow                = time.Now()
	gCelsius    Celsius = 36.6
	gDay        Weekday = 3
)

func init() {
	for i := 0; i < 100; i++ {
		gLongInts = append(gLongInts, i*i)
	}
	for i := 0; i < 200; i++ {
		gIntMap[i*7] = "v" + strconv.Itoa(i)
		gBigMap["key"+strconv.Itoa(i)] = i * 3
	}
	gChan <- 11
	gChan <- 22
	gOrder = &order{ID: 1001, Customer: "ACME Corp", Items: gItems, Paid: true}
	gOrder.Next = &order{ID: 1002, Customer: "Globex", Next: nil}
	base := gInt
	gAdd = func(x int) int { return x + base }
}

var sink []any

//go:noinline
func crash(n int) {
	if n >= 0 {
		panic("printfix: crash with values in memory")
	}
}

// inspect holds arguments and locals of every kind, live across the call to crash. Their
// values come from package variables (which the compiler cannot fold into constants) so that
// every one of them is kept in the frame.
//
//go:noinline
func inspect(a int, s string, f float64, p *point, o order, b bool) {
	i8 := gInt8 + 3
	u16 := gUint16 + 535
	i32 := gInt32 - 443456
	u64 := gUint64 - 9000000000000000000
	f32 := gFloat32 - 2
	c := complex(gFloat32+0.75, gFloat32*2+0.5)
	str := gStr[:5] + " local"
	longStr := strings.Repeat("0123456789", a/1234)
	bs := gBytes
	items := gItems
	arr := [3]string{gStr[:1], gStr[1:3], gStr[3:6]}
	nested := outer{ID: uint32(a), In: inner{A: i8, B: s[:4], C: [2]uint16{u16, 4}}, P: p, Tags: gOuter.Tags, Ratio: f32 * 2}
	nilp := gNilPtr
	small := gMap
	big := gIntMap
	anyInt := gAny
	anyStruct := gAnyStruct
	anyPtr := gAnyPtr
	anyStr := gAnyStr
	err := gCodeErr
	nilErr := gNilErr
	ch := gChan
	nilCh := gNilIntChan
	fn := gFunc
	add := gAdd
	celsius := gCelsius - 76.6
	day := gDay + 3
	when := gTime.Add(90 * time.Minute)
	sink = append(sink, &when)
	escaped := point{X: a, Y: a + 1}
	sink = append(sink, &escaped)
	ok := gBool && a > 0

	oracle("a", strconv.Itoa(a))
	oracle("s", strconv.Quote(s))
	oracle("f", strconv.FormatFloat(f, 'f', -1, 64))
	oracle("b", strconv.FormatBool(b))
	oracle("ok", strconv.FormatBool(ok))
	oracle("i8", strconv.Itoa(int(i8)))
	oracle("u16", strconv.Itoa(int(u16)))
	oracle("i32", strconv.Itoa(int(i32)))
	oracle("u64", strconv.FormatUint(u64, 10))
	oracle("f32", strconv.FormatFloat(float64(f32), 'f', -1, 32))
	oracle("c", fmt.Sprintf("(%s + %si)", strconv.FormatFloat(float64(real(c)), 'f', -1, 32), strconv.FormatFloat(float64(imag(c)), 'f', -1, 32)))
	oracle("str", strconv.Quote(str))
	oracle("longStr", strconv.Quote(longStr[:64])[:65]+`...+36 more"`)
	oracle("len(longStr)", strconv.Itoa(len(longStr)))
	oracle("bs", fmt.Sprintf("[]uint8 len: %d, cap: %d, %s", len(bs), cap(bs), strings.ReplaceAll(fmt.Sprint(bs), " ", ",")))
	oracle("bs[1]", strconv.Itoa(int(bs[1])))
	oracle("p.X", strconv.Itoa(p.X))
	oracle("p.Y", strconv.Itoa(p.Y))
	oracle("*p", fmt.Sprintf("main.point {X: %d, Y: %d}", p.X, p.Y))
	oracle("o.ID", strconv.FormatInt(o.ID, 10))
	oracle("o.Customer", strconv.Quote(o.Customer))
	oracle("o.Items[1].Name", strconv.Quote(o.Items[1].Name))
	oracle("o.Items[1].Qty", strconv.Itoa(int(o.Items[1].Qty)))
	oracle("o.Next.Customer", strconv.Quote(o.Next.Customer))
	oracle("o.Next.Next", "*main.order nil")
	oracle("o.Paid", strconv.FormatBool(o.Paid))
	oracle("items[1].Qty", strconv.Itoa(int(items[1].Qty)))
	oracle("items[0].Price", strconv.FormatFloat(items[0].Price, 'f', -1, 64))
	oracle("len(items)", strconv.Itoa(len(items)))
	oracle("arr[1]", strconv.Quote(arr[1]))
	oracle("nested.ID", strconv.Itoa(int(nested.ID)))
	oracle("nested.In.A", strconv.Itoa(int(nested.In.A)))
	oracle("nested.In.B", strconv.Quote(nested.In.B))
	oracle("nested.In.C", fmt.Sprintf("[2]uint16 [%d,%d]", nested.In.C[0], nested.In.C[1]))
	oracle("nested.In.C[1]", strconv.Itoa(int(nested.In.C[1])))
	oracle("nested.P.Y", strconv.Itoa(nested.P.Y))
	oracle("nested.Tags[0]", strconv.Quote(nested.Tags[0]))
	oracle("nested.Ratio", strconv.FormatFloat(float64(nested.Ratio), 'f', -1, 32))
	oracle("nilp", "*main.point nil")
	oracle(`small["beta"]`, strconv.Itoa(small["beta"]))
	oracle(`small["gamma"] * 10`, strconv.Itoa(small["gamma"]*10))
	oracle("len(small)", strconv.Itoa(len(small)))
	oracle("big[42]", strconv.Quote(big[42]))
	oracle("big[1386]", strconv.Quote(big[1386]))
	oracle("len(big)", strconv.Itoa(len(big)))
	oracle("anyInt", fmt.Sprintf("interface {}(int) %d", anyInt))
	oracle("anyStruct", fmt.Sprintf("interface {}(main.point) {X: %d, Y: %d}", anyStruct.(point).X, anyStruct.(point).Y))
	oracle("anyPtr", fmt.Sprintf("interface {}(*main.point) *{X: %d, Y: %d}", anyPtr.(*point).X, anyPtr.(*point).Y))
	oracle("anyStr", fmt.Sprintf("interface {}(string) %q", anyStr))
	oracle("err", fmt.Sprintf("error(*main.codeError) *{Code: %d, Msg: %q}", err.(*codeError).Code, err.(*codeError).Msg))
	oracle("nilErr", "error nil")
	oracle("nilErr == nil", "true")
	oracle("len(ch)", strconv.Itoa(len(ch)))
	oracle("cap(ch)", strconv.Itoa(cap(ch)))
	oracle("nilCh", "chan int {}\n\nGoroutines waiting on this channel:")
	oracle("celsius", strconv.FormatFloat(float64(celsius), 'f', -1, 64))
	oracle("day", strconv.Itoa(int(day)))
	oracle("escaped", fmt.Sprintf("main.point {X: %d, Y: %d}", escaped.X, escaped.Y))
	oracle("add", "main.init.0.func1")
	oracle("fn", "strings.ToUpper")
	oracle("when", timeText(when))
	oracle("when.ext", strconv.FormatInt(when.Unix()+62135596800, 10))
	oracle("escaped.Y", strconv.Itoa(escaped.Y))
	oracle("a*2+1", strconv.Itoa(a*2+1))
	oracle("a/7", strconv.Itoa(a/7))
	oracle("a%7", strconv.Itoa(a%7))
	oracle("-a", strconv.Itoa(-a))
	oracle("a > 100", strconv.FormatBool(a > 100))
	oracle("a == 12345 && b", strconv.FormatBool(a == 12345 && b))
	oracle(`s == "argument"`, strconv.FormatBool(s == "argument"))
	oracle(`s != "argument"`, strconv.FormatBool(s != "argument"))
	oracle("f * 2", strconv.FormatFloat(f*2, 'f', -1, 64))
	oracle("i8 < 0", strconv.FormatBool(i8 < 0))
	oracle("!b", strconv.FormatBool(!b))
	oracle("p.X + p.Y", strconv.Itoa(p.X+p.Y))
	oracle("(*p).Y", strconv.Itoa(p.Y))
	oracle("nested.P == p", "true")
	oracle("uint8(a)", strconv.Itoa(int(uint8(a))))
	oracle("int16(u16)", strconv.Itoa(int(int16(u16))))
	oracle("float32(a)", strconv.FormatFloat(float64(float32(a)), 'f', -1, 32))
	oracle("s[0]", strconv.Itoa(int(s[0])))
	oracle("len(s)", strconv.Itoa(len(s)))
	oracle("goroutine", "1")
	globalOracles()

	crash(a)

	// Used after the crash call, so that each is live across it (kept in the frame).
	keep(when, a, s, f, p, o, b, str, longStr, bs, items, arr, nested, nilp, small, big, anyInt, anyStruct, anyPtr, anyStr, err, nilErr, ch, nilCh, fn, add, escaped)
	keepScalars(ok, i8, u16, i32, u64, f32, c, celsius, day)
}

func globalOracles() {
	// Addresses, for expressions on stripped builds (no DWARF: memory through conversions).
	oracleAt("ADDR", "main.gInt", fmt.Sprintf("%#x", uintptr(unsafe.Pointer(&gInt))))
	oracleAt("ADDR", "main.gPtr", fmt.Sprintf("%#x", uintptr(unsafe.Pointer(gPtr))))
	oracleAt("ADDR", "main.gOrder", fmt.Sprintf("%#x", uintptr(unsafe.Pointer(gOrder))))
	oracleAt("ADDR", "main.gStr", fmt.Sprintf("%#x", uintptr(unsafe.Pointer(&gStr))))
	oracle("main.gInt", strconv.Itoa(gInt))
	oracle("main.gInt8", strconv.Itoa(int(gInt8)))
	oracle("main.gInt16", strconv.Itoa(int(gInt16)))
	oracle("main.gInt32", strconv.Itoa(int(gInt32)))
	oracle("main.gInt64", strconv.FormatInt(gInt64, 10))
	oracle("main.gUint", strconv.FormatUint(uint64(gUint), 10))
	oracle("main.gUint8", strconv.Itoa(int(gUint8)))
	oracle("main.gUint16", strconv.Itoa(int(gUint16)))
	oracle("main.gUint32", strconv.FormatUint(uint64(gUint32), 10))
	oracle("main.gUint64", strconv.FormatUint(gUint64, 10))
	oracle("main.gUintptr", strconv.FormatUint(uint64(gUintptr), 10))
	oracle("main.gFloat32", strconv.FormatFloat(float64(gFloat32), 'f', -1, 32))
	oracle("main.gFloat64", strconv.FormatFloat(gFloat64, 'f', -1, 64))
	oracle("main.gBool", strconv.FormatBool(gBool))
	oracle("main.gStr", strconv.Quote(gStr))
	oracle("main.gEmpty", `""`)
	oracle("main.gInts", fmt.Sprintf("[]int len: %d, cap: %d, %s", len(gInts), cap(gInts), strings.ReplaceAll(fmt.Sprint(gInts), " ", ",")))
	oracle("main.gNilSlice", "[]int len: 0, cap: 0, nil")
	oracle("main.gArr", "[4]int32 [10,-20,30,-40]")
	oracle("main.gPoint", fmt.Sprintf("main.point {X: %d, Y: %d}", gPoint.X, gPoint.Y))
	oracle("main.gPtr.X", strconv.Itoa(gPtr.X))
	oracle("main.gNilPtr", "*main.point nil")
	oracle("main.gOuter.In.B", strconv.Quote(gOuter.In.B))
	oracle("main.gOuter.P.Y", strconv.Itoa(gOuter.P.Y))
	oracle("main.gOuter.Tags[1]", strconv.Quote(gOuter.Tags[1]))
	oracle("main.gItems[1].Price", strconv.FormatFloat(gItems[1].Price, 'f', -1, 64))
	oracle("main.gOrder.Customer", strconv.Quote(gOrder.Customer))
	oracle("main.gOrder.Next.ID", strconv.FormatInt(gOrder.Next.ID, 10))
	oracle(`main.gSmallMap["one"]`, strconv.Itoa(gSmallMap["one"]))
	oracle(`main.gMap["beta"]`, strconv.Itoa(gMap["beta"]))
	oracle("len(main.gMap)", strconv.Itoa(len(gMap)))
	oracle("main.gIntMap[77]", strconv.Quote(gIntMap[77]))
	oracle("main.gIntMap[1393]", strconv.Quote(gIntMap[1393]))
	oracle("len(main.gIntMap)", strconv.Itoa(len(gIntMap)))
	oracle(`main.gBigMap["key150"]`, strconv.Itoa(gBigMap["key150"]))
	oracle("main.gNilMap", "map[string]int nil")
	oracle("main.gStructMap[7].Y", strconv.Itoa(gStructMap[7].Y))
	oracle("main.gAny", "interface {}(int) 42")
	oracle("main.gAnyStr", `interface {}(string) "boxed"`)
	oracle("main.gAnyStruct", "interface {}(main.point) {X: 5, Y: 6}")
	oracle("main.gNilAny", "interface {} nil")
	oracle("main.gErr", `error(*errors.errorString) *{s: "boom"}`)
	oracle("main.gCodeErr", `error(*main.codeError) *{Code: 7, Msg: "bad"}`)
	oracle("main.gNilErr", "error nil")
	oracle("main.gShape", "main.shape(main.rect) {W: 2, H: 3}")
	oracle("len(main.gChan)", strconv.Itoa(len(gChan)))
	oracle("cap(main.gChan)", strconv.Itoa(cap(gChan)))
	oracle("main.gNilChan", "chan string {}\n\nGoroutines waiting on this channel:")
	oracle("main.gNilFunc", "nil")
	oracle("main.gCelsius", strconv.FormatFloat(float64(gCelsius), 'f', -1, 64))
	oracle("main.gDay", strconv.Itoa(int(gDay)))
	oracle("main.gTime", timeText(gTime))
	oracle("main.gZeroTime", timeText(gZeroTime))
	oracle("main.gInt + 50", strconv.Itoa(gInt+50))
	oracle("main.gUint8 / 3", strconv.Itoa(int(gUint8/3)))
	oracle("main.gInt16 % 7", strconv.Itoa(int(gInt16%7)))
	oracle("main.gFloat32 * 2", strconv.FormatFloat(float64(gFloat32*2), 'f', -1, 32))
	oracle(`main.gStr == "hello, world"`, "true")
	oracle("main.gBool && main.gInt < 0", strconv.FormatBool(gBool && gInt < 0))
	oracle("!main.gBool || main.gUint == 42", strconv.FormatBool(!gBool || gUint == 42))
	oracle("int8(main.gInt)", strconv.Itoa(int(int8(gInt))))
	oracle("uint8(main.gInt)", strconv.Itoa(int(uint8(gInt))))
	oracle("float64(main.gInt32) / 1000", strconv.FormatFloat(float64(gInt32)/1000, 'f', -1, 64))
	oracle("main.gNilPtr == nil", "true")
	oracle("main.gPtr != nil", "true")
	oracle("main.gNilMap == nil", "true")
}

// holder is a second goroutine's frame with its own arguments and locals, blocked in a
// channel receive while main crashes.
//
//go:noinline
func holder(id int, name string, ready chan<- struct{}, wait <-chan int) {
	counts := map[string]int{"x": 10}
	pt := point{X: id, Y: -id}
	oracleAt("main.holder", "id", strconv.Itoa(id))
	oracleAt("main.holder", "name", strconv.Quote(name))
	oracleAt("main.holder", "pt", fmt.Sprintf("main.point {X: %d, Y: %d}", pt.X, pt.Y))
	ready <- struct{}{}
	v := <-wait
	keep(counts, pt, v, name, id, wait)
}

// keep uses its arguments, so that a caller's variables passed to it are live until the call.
//
//go:noinline
func keep(vs ...any) {
	sink = append(sink, len(vs))
}

// keepScalars is keep for scalars, passed as themselves: converted to interfaces, small
// integers become pointers into a runtime table, computed early, and the integers die early.
//
//go:noinline
func keepScalars(ok bool, i8 int8, u16 uint16, i32 int32, u64 uint64, f32 float32, c complex64, celsius Celsius, day Weekday) {
	sink = append(sink, ok, i8, u16, i32, u64, f32, c, celsius, day)
}

// keepGlobals makes every global reachable, so that the linker keeps it (and its DWARF).
func keepGlobals() {
	sink = append(sink,
		&gInt,
		&gInt8,
		&gInt16,
		&gInt32,
		&gInt64,
		&gUint,
		&gUint8,
		&gUint16,
		&gUint32,
		&gUint64,
		&gUintptr,
		&gFloat32,
		&gFloat64,
		&gComplex,
		&gBool,
		&gStr,
		&gLong,
		&gEmpty,
		&gBytes,
		&gInts,
		&gLongInts,
		&gNilSlice,
		&gArr,
		&gPoint,
		&gPtr,
		&gNilPtr,
		&gOuter,
		&gItems,
		&gOrder,
		&gSmallMap,
		&gMap,
		&gIntMap,
		&gBigMap,
		&gNilMap,
		&gStructMap,
		&gAny,
		&gAnyStr,
		&gAnyStruct,
		&gAnyPtr,
		&gNilAny,
		&gErr,
		&gCodeErr,
		&gNilErr,
		&gShape,
		&gChan,
		&gNilChan,
		&gNilIntChan,
		&gFunc,
		&gNilFunc,
		&gCelsius,
		&gDay,
		&gAdd,
		&gTime,
		&gZeroTime,
		&gNow,
	)
}

// timeText is how Delve prints a UTC time.Time without a monotonic reading.
func timeText(t time.Time) string {
	return fmt.Sprintf("time.Time(%s){\n\twall: 0,\n\text: %d,\n\tloc: *time.Location nil,}",
		t.Format(time.RFC3339), t.Unix()+62135596800)
}

// oracle states what `print EXPR` shows in main.inspect's frame.
func oracle(expr, text string) {
	oracleAt("main.inspect", expr, text)
}

// oracleAt states what `print EXPR` shows in the frame of function fn: one line, the text
// quoted (it may span lines).
func oracleAt(fn, expr, text string) {
	fmt.Fprintf(os.Stderr, "ORACLE %s\t%s\t%s\n", fn, expr, strconv.Quote(text))
}

func main() {
	debug.SetTraceback("crash")
	ready := make(chan struct{})
	wait := make(chan int)
	go holder(17, "second goroutine", ready, wait)
	<-ready
	keepGlobals()
	o := order{ID: 5, Customer: "Initech", Items: []item{{"stapler", 1, 9.99}, {"paper", 500, 0.02}}, Paid: false}
	o.Next = &order{ID: 6, Customer: "Initrode"}
	inspect(12345, "argument", 2.5, &point{X: -7, Y: 11}, o, true)
	fmt.Fprintln(os.Stderr, "not reached")
	os.Exit(3)
}
