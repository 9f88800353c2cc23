package packagetest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
)

// entry is one file of a package.
type entry struct {
	mode   os.FileMode // permission bits, with os.ModeDir for directories
	config bool        // a configuration file (conffile, %config)
	// noreplace is true for rpm's %config(noreplace); dpkg never replaces
	// a changed conffile without asking.
	noreplace bool
	data      []byte // contents of regular files
}

// readDeb reads a .deb: an ar archive holding debian-binary,
// control.tar.gz and data.tar.gz.
func readDeb(name string) (files map[string]*entry, control map[string][]byte, err error) {
	f, err := os.ReadFile(name)
	if err != nil {
		return nil, nil, err
	}
	if !bytes.HasPrefix(f, []byte("!<arch>\n")) {
		return nil, nil, errors.New("not an ar archive")
	}
	members := map[string][]byte{}
	for r := f[8:]; len(r) >= 60; {
		hdr := r[:60]
		memberName := strings.TrimSuffix(strings.TrimSpace(string(hdr[:16])), "/")
		size, err := strconv.Atoi(strings.TrimSpace(string(hdr[48:58])))
		if err != nil || 60+size > len(r) {
			return nil, nil, fmt.Errorf("bad ar member header %q", hdr)
		}
		members[memberName] = r[60 : 60+size]
		r = r[60+size+size%2:]
	}
	control = map[string][]byte{}
	if err := readTarGz(members["control.tar.gz"], func(h *tar.Header, data []byte) {
		control[path.Clean(h.Name)] = data
	}); err != nil {
		return nil, nil, fmt.Errorf("control.tar.gz: %w", err)
	}
	conffiles := map[string]bool{}
	for _, l := range strings.Split(string(control["conffiles"]), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			conffiles[l] = true
		}
	}
	files = map[string]*entry{}
	if err := readTarGz(members["data.tar.gz"], func(h *tar.Header, data []byte) {
		p := path.Clean("/" + h.Name)
		e := &entry{mode: os.FileMode(h.Mode).Perm(), config: conffiles[p], data: data}
		if h.Typeflag == tar.TypeDir {
			e.mode |= os.ModeDir
		}
		files[p] = e
	}); err != nil {
		return nil, nil, fmt.Errorf("data.tar.gz: %w", err)
	}
	return files, control, nil
}

func readTarGz(data []byte, each func(*tar.Header, []byte)) error {
	if data == nil {
		return errors.New("missing")
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		each(h, body)
	}
}

// RPM header tags and file flags (rpm's rpmtag.h and rpmfiles.h).
const (
	tagLicense    = 1014
	tagFileModes  = 1030
	tagFileFlags  = 1037
	tagDirIndexes = 1116
	tagBaseNames  = 1117
	tagDirNames   = 1118

	fileConfig    = 1 << 0
	fileNoReplace = 1 << 4
)

// readRPM lists an .rpm's files, and reads its License tag, from its main
// header: the 96-byte lead, the signature header (padded to 8 bytes),
// then the header.
func readRPM(name string) (files map[string]*entry, license string, err error) {
	files, h, err := readRPMHeader(name)
	if err != nil {
		return nil, "", err
	}
	if l := h.strings(tagLicense); len(l) == 1 {
		license = l[0]
	}
	return files, license, nil
}

func readRPMHeader(name string) (map[string]*entry, *rpmHeader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	if _, err := io.ReadFull(r, make([]byte, 96)); err != nil {
		return nil, nil, fmt.Errorf("lead: %w", err)
	}
	sig, err := readHeader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("signature: %w", err)
	}
	if pad := (8 - sig.size%8) % 8; pad > 0 {
		if _, err := io.ReadFull(r, make([]byte, pad)); err != nil {
			return nil, nil, err
		}
	}
	h, err := readHeader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	bases, dirs := h.strings(tagBaseNames), h.strings(tagDirNames)
	idx, flags, modes := h.ints(tagDirIndexes), h.ints(tagFileFlags), h.ints(tagFileModes)
	if len(idx) != len(bases) || len(flags) != len(bases) || len(modes) != len(bases) {
		return nil, nil, fmt.Errorf("%d base names, %d dir indexes, %d flags, %d modes", len(bases), len(idx), len(flags), len(modes))
	}
	out := map[string]*entry{}
	for i, b := range bases {
		if int(idx[i]) >= len(dirs) {
			return nil, nil, fmt.Errorf("dir index %d out of range", idx[i])
		}
		m := uint32(modes[i])
		e := &entry{mode: os.FileMode(m & 0o777), config: flags[i]&fileConfig != 0, noreplace: flags[i]&fileNoReplace != 0}
		if m&0o170000 == 0o040000 {
			e.mode |= os.ModeDir
		}
		out[dirs[idx[i]]+b] = e
	}
	return out, h, nil
}

type rpmHeader struct {
	size  int
	index map[uint32][2]uint32 // tag: type, offset (count is implied below)
	count map[uint32]uint32
	data  []byte
}

func readHeader(r io.Reader) (*rpmHeader, error) {
	var pre [16]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, err
	}
	if !bytes.Equal(pre[:4], []byte{0x8e, 0xad, 0xe8, 0x01}) {
		return nil, fmt.Errorf("bad magic % x", pre[:4])
	}
	n, size := binary.BigEndian.Uint32(pre[8:]), binary.BigEndian.Uint32(pre[12:])
	if n > 1<<16 || size > 1<<28 {
		return nil, fmt.Errorf("implausible header: %d entries, %d bytes", n, size)
	}
	ents := make([]byte, 16*n)
	if _, err := io.ReadFull(r, ents); err != nil {
		return nil, err
	}
	h := &rpmHeader{size: int(16*n + size), index: map[uint32][2]uint32{}, count: map[uint32]uint32{}, data: make([]byte, size)}
	if _, err := io.ReadFull(r, h.data); err != nil {
		return nil, err
	}
	for i := range n {
		e := ents[16*i:]
		tag := binary.BigEndian.Uint32(e)
		h.index[tag] = [2]uint32{binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:])}
		h.count[tag] = binary.BigEndian.Uint32(e[12:])
	}
	return h, nil
}

func (h *rpmHeader) strings(tag uint32) []string {
	e, ok := h.index[tag]
	if !ok {
		return nil
	}
	var out []string
	d := h.data[e[1]:]
	for range h.count[tag] {
		end := bytes.IndexByte(d, 0)
		if end < 0 {
			break
		}
		out = append(out, string(d[:end]))
		d = d[end+1:]
	}
	return out
}

// ints reads an INT16 (type 3) or INT32 (type 4) array.
func (h *rpmHeader) ints(tag uint32) []int64 {
	e, ok := h.index[tag]
	if !ok {
		return nil
	}
	var out []int64
	d := h.data[e[1]:]
	for i := range h.count[tag] {
		switch e[0] {
		case 3:
			out = append(out, int64(binary.BigEndian.Uint16(d[2*i:])))
		case 4:
			out = append(out, int64(binary.BigEndian.Uint32(d[4*i:])))
		}
	}
	return out
}
