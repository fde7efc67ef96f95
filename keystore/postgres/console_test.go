package postgres_test

import (
	"testing"

	"github.com/leakguard/leakguard/keystore/storetest"
)

func TestConsoleStore(t *testing.T) {
	storetest.RunConsole(t, func(t *testing.T) (storetest.ConsoleStore, storetest.TableDumper) {
		s, url := open(t)
		return s, dumpable{Store: s, url: url}
	})
}
