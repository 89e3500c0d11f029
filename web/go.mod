module pictor/web

go 1.26.0
