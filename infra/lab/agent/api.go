package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

const (
	contentJSON                = "application/json"
	contentMergePatch          = "application/merge-patch+json"
	contentStrategicMergePatch = "application/strategic-merge-patch+json"
)

var (
	errNotFound = errors.New("not found")
	errConflict = errors.New("conflict")
)

// objectMeta is the part of any Kubernetes object the agent reads back.
type objectMeta struct {
	Metadata struct {
		UID string `json:"uid"`
	} `json:"metadata"`
}

// apiClient sends JSON requests to one Kubernetes API server.
type apiClient struct {
	server string
	http   *http.Client
}

// do sends body (JSON-encoded, if not nil) and decodes the answer into out
// (if not nil). 404 and 409 come back as errNotFound and errConflict.
func (c *apiClient) do(ctx context.Context, method, path, contentType string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", contentJSON)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errNotFound
	case resp.StatusCode == http.StatusConflict:
		return errConflict
	case resp.StatusCode >= 300:
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}
