module example.com/asmcover

go 1.19
