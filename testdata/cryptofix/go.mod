module cryptofix

go 1.26
