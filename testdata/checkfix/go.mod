module example.com/checkfix

go 1.19
