package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/leakguard/leakguard/keystore/sqlite"
	"github.com/leakguard/leakguard/keystore/storetest"
)

func TestConsoleStore(t *testing.T) {
	storetest.RunConsole(t, func(t *testing.T) (storetest.ConsoleStore, storetest.TableDumper) {
		path := filepath.Join(t.TempDir(), "leakguard.db")
		s, err := sqlite.Open(context.Background(), path, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, dumpable{Store: s, path: path}
	})
}
