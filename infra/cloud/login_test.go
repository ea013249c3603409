package cloud_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// A booting node retries its login through every kind of failure until the
// issuer lets it in, and gives up only when its context ends.
func TestLoginUntilIssued(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "shed", http.StatusServiceUnavailable)
		case 2:
			http.Error(w, "boom", http.StatusInternalServerError) // not Retryable, retried all the same
		default:
			_, _ = w.Write([]byte(`{"instanceId":"i-1","token":"t"}`))
		}
	}))
	defer srv.Close()
	policy := cloud.FixedRetry(10 * time.Millisecond)
	attempts, err := cloud.NewClient(srv.URL, "node", nil).LoginUntilIssued(context.Background(), policy, "i-1")
	if err != nil || attempts != 3 {
		t.Errorf("LoginUntilIssued = %d attempts, %v; want 3, nil", attempts, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "shed", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	attempts, err = cloud.NewClient(down.URL, "node", nil).LoginUntilIssued(ctx, policy, "i-2")
	if err == nil || attempts < 2 || !strings.Contains(err.Error(), "gave up after") {
		t.Errorf("against a shedding issuer: %d attempts, %v; want several and a give-up", attempts, err)
	}
}
