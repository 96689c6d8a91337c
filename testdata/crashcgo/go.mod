module example.com/crashcgo

go 1.19
