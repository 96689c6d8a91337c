package main

import "unsafe"

func unsafePointer(p *int64) unsafe.Pointer { return unsafe.Pointer(p) }
