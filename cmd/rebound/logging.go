package main

import (
	"fmt"
	"io"
	"log/slog"
)

// logFlags choose the log format and level of long-running commands.
type logFlags struct {
	format string
	level  string
}

func (l *logFlags) define(fs *flagSet, defaultFormat string) {
	fs.envString(&l.format, "log-format", "REBOUND_LOG_FORMAT", defaultFormat, "log format: json or text")
	fs.envString(&l.level, "log-level", "REBOUND_LOG_LEVEL", "info", "log level: debug, info, warn or error")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("REBOUND_LOG_LEVEL: %q is not debug, info, warn or error", l.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("REBOUND_LOG_FORMAT: %q is not json or text", l.format)
}
