module pictor/services/internal

go 1.26
