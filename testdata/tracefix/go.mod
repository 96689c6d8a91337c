module tracefix

go 1.19
