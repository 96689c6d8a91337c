module example.com/debugfix

go 1.19
