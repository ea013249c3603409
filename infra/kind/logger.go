package kind

import (
	"context"
	"fmt"
	"log/slog"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// kindLogger forwards kind's logging to slog: warnings and errors as such,
// V(0) as debug (kind's status lines), higher levels dropped.
type kindLogger struct{ log *slog.Logger }

var _ kindlog.Logger = kindLogger{}

func (l kindLogger) Warn(message string) { l.log.Warn(message, "from", "kind") }
func (l kindLogger) Warnf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "from", "kind")
}
func (l kindLogger) Error(message string) { l.log.Error(message, "from", "kind") }
func (l kindLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "from", "kind")
}

func (l kindLogger) V(level kindlog.Level) kindlog.InfoLogger {
	return kindInfo{log: l.log, enabled: level <= 0 && l.log.Enabled(context.Background(), slog.LevelDebug)}
}

type kindInfo struct {
	log     *slog.Logger
	enabled bool
}

func (i kindInfo) Info(message string) {
	if i.enabled {
		i.log.Debug(message, "from", "kind")
	}
}

func (i kindInfo) Infof(format string, args ...any) {
	if i.enabled {
		i.log.Debug(fmt.Sprintf(format, args...), "from", "kind")
	}
}

func (i kindInfo) Enabled() bool { return i.enabled }
