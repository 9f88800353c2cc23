package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/havip/havip/election"
	"github.com/havip/havip/status"
)

// nodeState is what a node keeps across restarts, in the state file.
type nodeState struct {
	Maintenance bool      `json:"maintenance"`
	Changed     time.Time `json:"changed"`
	// Epoch is the epoch of the last run that started (see nextEpoch).
	Epoch uint64 `json:"epoch,omitempty"`
}

// loadState reads the state file in dir; a missing file is the zero
// state.
func loadState(dir string) (nodeState, error) {
	var st nodeState
	data, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return nodeState{}, fmt.Errorf("%s: %w", statePath(dir), err)
	}
	return st, nil
}

// saveState writes the state file atomically (temporary file, fsync,
// rename), creating dir (0755) if needed.
func saveState(dir string, st nodeState) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".state-*.json")
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(append(data, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, statePath(dir))
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing state %s: %w", statePath(dir), werr)
	}
	if df, err := os.Open(filepath.Clean(dir)); err == nil {
		_ = df.Sync()
		df.Close()
	}
	return nil
}

// maintenance serves POST /v1/maintenance: the setting is saved first,
// so a drained node stays drained through a restart, then applied.
func (d *Daemon) maintenance(_ context.Context, req status.MaintenanceRequest) (status.MaintenanceReply, error) {
	d.mu.Lock()
	dir, node := d.cfg.Node.StateDir, d.node
	d.mu.Unlock()
	if err := saveState(dir, nodeState{Maintenance: req.On, Changed: time.Now().UTC(), Epoch: d.epoch.Load()}); err != nil {
		return status.MaintenanceReply{}, &status.RequestError{Code: http.StatusInternalServerError,
			Msg: "maintenance not changed: " + err.Error()}
	}
	node.SetMaintenance(req.On)
	if node.Status().Maintenance != req.On {
		return status.MaintenanceReply{}, &status.RequestError{Code: http.StatusServiceUnavailable,
			Msg: fmt.Sprintf("maintenance saved in %s but not applied: the election does not answer; it applies at the next start", statePath(dir))}
	}
	d.log.Info("maintenance set by control request", "on", req.On, "file", statePath(dir))
	return status.MaintenanceReply{Maintenance: req.On, StateFile: statePath(dir)}, nil
}

// switchover serves POST /v1/switchover.
func (d *Daemon) switchover(_ context.Context, req status.SwitchoverRequest) (status.SwitchoverReply, error) {
	d.mu.Lock()
	node := d.node
	var names []string
	for _, in := range d.cfg.Instances {
		names = append(names, in.Name)
	}
	d.mu.Unlock()
	inst := req.Instance
	if inst == "" {
		switch len(names) {
		case 1:
			inst = names[0]
		case 0:
			return status.SwitchoverReply{}, &status.RequestError{Code: http.StatusBadRequest,
				Msg: "this node has no instances: name one with --instance"}
		default:
			slices.Sort(names)
			return status.SwitchoverReply{}, &status.RequestError{Code: http.StatusBadRequest,
				Msg: fmt.Sprintf("this node has %d instances (%s): name one with --instance", len(names), strings.Join(names, ", "))}
		}
	}
	to, err := node.Switchover(inst, req.To)
	switch {
	case errors.Is(err, election.ErrUnknownInstance):
		return status.SwitchoverReply{}, &status.RequestError{Code: http.StatusNotFound, Msg: err.Error()}
	case errors.Is(err, election.ErrNoTarget):
		return status.SwitchoverReply{}, &status.RequestError{Code: http.StatusConflict, Msg: err.Error()}
	case errors.Is(err, election.ErrNotRunning):
		return status.SwitchoverReply{}, &status.RequestError{Code: http.StatusServiceUnavailable, Msg: err.Error()}
	case err != nil:
		return status.SwitchoverReply{}, err
	}
	return status.SwitchoverReply{Instance: inst, To: to}, nil
}
