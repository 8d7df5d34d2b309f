package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// replayKey is what identifies a replay: the arguments as given. Rerunning `rebound replay`
// with the same ones continues where the last run stopped.
type replayKey struct {
	From      string   `json:"from"`
	To        string   `json:"to"`
	Filters   []string `json:"filters,omitempty"`
	ToSubject string   `json:"to_subject"`
}

// hash names the replay's default state file: the same arguments (filters in any order) give
// the same name.
func (k replayKey) hash() string {
	k.Filters = slices.Sorted(slices.Values(k.Filters))
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (k replayKey) equal(o replayKey) bool {
	return k.From == o.From && k.To == o.To && k.ToSubject == o.ToSubject &&
		slices.Equal(slices.Sorted(slices.Values(k.Filters)), slices.Sorted(slices.Values(o.Filters)))
}

// replayStateVersion is the state file's format version.
const replayStateVersion = 1

// replayState is a replay's state file: the range it resolved on its first run (so a rerun
// re-delivers the same range even when --to was a time or "now") and how far it got. Its field
// names are part of the ops interface.
type replayState struct {
	Version int       `json:"version"`
	RunID   string    `json:"run_id"`
	Args    replayKey `json:"args"`
	// FromPosition and ToPosition are the range, both included.
	FromPosition uint64 `json:"from_position"`
	ToPosition   uint64 `json:"to_position"`
	// DeliveredThrough is the position of the last event the target acknowledged (JetStream) or
	// the server received (core NATS); FromPosition-1 when none was.
	DeliveredThrough uint64 `json:"delivered_through"`
	// Delivered counts the events delivered so far.
	Delivered uint64 `json:"delivered"`
	// Target says how the events went out: "jetstream:<stream>" or "core".
	Target    string    `json:"target"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Done says every event of the range was delivered.
	Done bool `json:"done"`
}

// loadReplayState reads a state file; nil when there is none.
func loadReplayState(path string, key replayKey) (*replayState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the replay state: %w", err)
	}
	var st replayState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("the replay state %s is not one `rebound replay` wrote (%v); delete it or pick another --state", path, err)
	}
	if st.Version != replayStateVersion {
		return nil, fmt.Errorf("the replay state %s has version %d; this rebound writes version %d", path, st.Version, replayStateVersion)
	}
	if !st.Args.equal(key) {
		return nil, fmt.Errorf("the replay state %s belongs to another replay (--from %s --to %s --to-subject %s, filters %v); pick another --state, or --restart to start this one over it",
			path, st.Args.From, st.Args.To, st.Args.ToSubject, st.Args.Filters)
	}
	return &st, nil
}

// save writes the state atomically: a crash leaves the old state or the new one.
func (st *replayState) save(path string) error {
	st.UpdatedAt = time.Now().UTC()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("saving the replay state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("saving the replay state: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("saving the replay state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("saving the replay state: %w", err)
	}
	return nil
}
