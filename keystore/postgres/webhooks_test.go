package postgres_test

import (
	"testing"

	"github.com/leakguard/leakguard/keystore"
	"github.com/leakguard/leakguard/keystore/storetest"
)

func TestWebhookStore(t *testing.T) {
	storetest.RunWebhooks(t, func(t *testing.T) keystore.Store { s, _ := open(t); return s })
}
