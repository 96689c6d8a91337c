module proffix

go 1.19
