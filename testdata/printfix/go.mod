module example.com/printfix

go 1.19
