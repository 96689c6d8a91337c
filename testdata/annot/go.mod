module example.com/annot

go 1.19
