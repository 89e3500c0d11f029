module pictor/migrations

go 1.26
