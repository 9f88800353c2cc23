package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// maxNameLen is the longest node or cluster name.
const maxNameLen = 64

// ParseOptions changes what ParseWithOptions checks.
type ParseOptions struct {
	// SkipKeyFile leaves this host's files and names alone:
	// cluster.secret_key_file and the cloud credential files are not
	// read (their paths are still resolved, SecretKey stays nil),
	// status.socket_group and the users and groups of the commands are
	// not looked up, the commands' programs are not checked, and
	// LoadWithOptions does not check who may change the file. For checking a file away from the
	// machine it is meant for; never for running the daemon.
	SkipKeyFile bool
}

// Load reads the configuration file at path; see Parse. The file must
// be one that only root (or the user running havip) can change: it names
// the commands havip runs as root.
func Load(path string) (*Config, error) {
	return LoadWithOptions(path, ParseOptions{})
}

// LoadWithOptions is Load with options.
func LoadWithOptions(path string, opts ParseOptions) (*Config, error) {
	data, fi, err := readFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: "cannot read the configuration: " + errText(err)}}
	}
	if !opts.SkipKeyFile {
		if problems := configAccessProblems(path, fi); len(problems) > 0 {
			errs := make(Errors, len(problems))
			for i, p := range problems {
				errs[i] = &Error{File: path, Msg: p}
			}
			return nil, errs
		}
	}
	return ParseWithOptions(data, path, opts)
}

// readFile reads a file and describes the file it read (not what the
// path points to a moment later).
func readFile(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	return data, fi, err
}

// Parse decodes, completes and checks a configuration, and reads the
// secret key file it names. path is the file the data came from: it
// appears in messages, and relative paths in the file (the key file, the
// status socket) are relative to its directory; it may be empty.
//
// On failure the error is an Errors holding every problem found, each
// an *Error naming the file, the key and what is wrong.
func Parse(data []byte, path string) (*Config, error) {
	return ParseWithOptions(data, path, ParseOptions{})
}

// ParseWithOptions is Parse with options.
func ParseWithOptions(data []byte, path string, opts ParseOptions) (*Config, error) {
	c := &collector{file: path}

	// A first, generic decoding finds syntax errors, unknown keys and
	// tables given as plain values.
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		c.decodeError(err, data)
		return nil, c.errs
	}
	if !checkShape(doc, c) {
		return nil, c.errs
	}

	var raw rawFile
	if _, err := toml.Decode(string(data), &raw); err != nil {
		// checkShape has ruled out what could fail here.
		c.decodeError(err, data)
		return nil, c.errs
	}
	applyDefaults(&raw, c)
	cfg := build(&raw, path, opts, c)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return cfg, nil
}

// collector gathers the problems of one file.
type collector struct {
	file string
	errs Errors
}

func (c *collector) add(key, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// valid reports a leaf's type problem, if any, and says whether its value
// can be used.
func (c *collector) valid(key, problem string) bool {
	if problem != "" {
		c.add(key, "%s", problem)
		return false
	}
	return true
}

// applyDefaults fills in every key the file leaves out. It is the one
// place defaults are set. Keys stay marked as not set, so that messages
// can tell a value from the file from a default. The advertise address
// is the exception: it follows node.bind, so build derives it.
func applyDefaults(f *rawFile, c *collector) {
	if !f.Node.Name.set {
		h, err := os.Hostname()
		if err != nil {
			c.add("node.name", "not set, and the hostname cannot be read (%v); set node.name", err)
		}
		f.Node.Name.val = h
	}
	f.Node.Bind.setDefault(DefaultBind)
	f.Node.StateDir.setDefault(DefaultStateDir)

	f.Cluster.Quorum.setDefault(string(QuorumAuto))
	f.Cluster.Timing.setDefault(DefaultProfile)
	// The raw knobs start from the profile; an unknown profile is
	// reported by build, and the knobs then start from the default one.
	profile, ok := Profile(f.Cluster.Timing.val)
	if !ok {
		profile, _ = Profile(DefaultProfile)
	}
	durs, ints := knobs(&f.Cluster.Tuning, &profile)
	for _, k := range durs {
		k.raw.setDefault(*k.val)
	}
	for _, k := range ints {
		k.raw.setDefault(*k.val)
	}

	for i := range f.Instances {
		in := &f.Instances[i]
		in.Priority.setDefault(100)
		in.Preempt.setDefault(true)
		in.PreemptDelay.setDefault(0)
		in.AnnounceCount.setDefault(5)
		in.AnnounceInterval.setDefault(200 * time.Millisecond)
		in.AnnounceRefresh.setDefault(0)
		in.NotifyTimeout.setDefault(DefaultNotifyTimeout)
		for j := range in.TrackScripts {
			sc := &in.TrackScripts[j]
			sc.Interval.setDefault(2 * time.Second)
			sc.Timeout.setDefault(time.Second)
			sc.Rise.setDefault(2)
			sc.Fall.setDefault(2)
			sc.Weight.setDefault(0)
		}
	}

	f.Status.Socket.setDefault(DefaultSocket)
	applyCloudDefaults(&f.Cloud)
}

func (o *optString) setDefault(v string) {
	if !o.set {
		o.val = v
	}
}

func (o *optInt) setDefault(v int) {
	if !o.set {
		o.val = v
	}
}

func (o *optBool) setDefault(v bool) {
	if !o.set {
		o.val = v
	}
}

func (o *optDuration) setDefault(v time.Duration) {
	if !o.set {
		o.val = v
	}
}

// build turns the completed raw file into a Config, reporting every
// value that is wrong. The tables are checked in a fixed order, which is
// the order their problems are listed in.
func build(f *rawFile, path string, opts ParseOptions, c *collector) *Config {
	dir := ""
	if path != "" {
		dir = filepath.Dir(path)
	}
	cfg := &Config{Path: path}
	buildNode(f, cfg, c)
	peerIPs := buildCluster(f, cfg, dir, opts, c)
	buildInstances(f, cfg, peerIPs, opts, c)
	buildCloud(f, cfg, dir, opts, c)
	checkCloudPlaces(cfg, c)
	if !cloudChecksLimits(cfg) {
		checkLimits(cfg, c)
	}
	buildStatus(f, cfg, dir, opts, c)
	buildStateDir(f, cfg, dir, c)
	return cfg
}

// checkName returns why s is not a valid node, cluster or instance name,
// or "".
func checkName(s string, maxLen int) string {
	ok := len(s) >= 1 && len(s) <= maxLen
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			ok = false
		}
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("is not a valid name (1 to %d characters of A-Z, a-z, 0-9, '_', '.' and '-')", maxLen)
}

// AddressProblem says why the configuration refuses a as what ("a peer
// address"), or "": a multicast or broadcast address, or an unspecified
// one where needSpecified. The keepalived converter asks it of the
// addresses it carries over.
func AddressProblem(a netip.Addr, what string, needSpecified bool) string {
	return badUse(a, what, needSpecified)
}

// badUse says why a cannot be used as what, or "". Bind addresses may be
// unspecified (0.0.0.0 or ::); advertise addresses may not.
func badUse(a netip.Addr, what string, needSpecified bool) string {
	kind := ""
	switch {
	case a.IsUnspecified() && needSpecified:
		kind = "unspecified"
	case a.IsMulticast():
		kind = "multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		kind = "the broadcast address"
	}
	if kind == "" {
		return ""
	}
	return fmt.Sprintf("%q cannot be %s: it is %s", a, what, kind)
}

// resolve makes a relative path relative to the configuration's directory.
func resolve(dir, p string) string {
	if dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// errText is the reason of a file error without the path it repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// orList joins names as `"a", "b" or "c"`.
func orList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
