package sqlite_test

import (
	"testing"

	"github.com/leakguard/leakguard/keystore/storetest"
)

func TestWebhookStore(t *testing.T) { storetest.RunWebhooks(t, openTemp) }
