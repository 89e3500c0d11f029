module pictor/services/e2e

go 1.26.0

require (
	github.com/jackc/pgx/v5 v5.12.0
	pictor/services/internal v0.0.0
)

require (
	github.com/golang-migrate/migrate/v4 v4.20.1 // indirect
	github.com/jackc/pgerrcode v0.0.0-20220416144525-469b46aa5efa // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	pictor/migrations v0.0.0 // indirect
)

replace (
	pictor/migrations => ../../migrations
	pictor/services/internal => ../../services/internal
)
