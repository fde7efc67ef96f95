// Package deps pins the project's third-party modules while the packages
// that use them are being written. It is removed once every dependency has
// a real importer.
package deps

import (
	_ "github.com/BobuSumisu/aho-corasick"
	_ "github.com/BurntSushi/toml"
	_ "github.com/emersion/go-smtp"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/google/go-github/v62/github"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/owenrumney/go-sarif/v2/sarif"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/wneessen/go-mail"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
	_ "golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)
