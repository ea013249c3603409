package service

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Query asks one shard or replica at url (http://host:port/query) and
// returns nil only for a 200 answer. Probers and the lab's readiness wait
// both use it, so they agree on what "serving" means.
func Query(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
