package main

import (
	"os"
	"path/filepath"
	"strconv"
)

// procNamer gives the processes that a segment's attachments record their
// command names, from the proc file system mounted at root ("" where
// there is none: nothing is named). The PIDs attachments record are the
// ones their processes see themselves as: in another PID namespace (a
// container) such a PID may name another process here, or none, so a name
// is given only to a PID whose process maps the segment, which every
// attached process does. Each process's maps are read once (ls names the
// users of many segments).
type procNamer struct {
	root   string
	mapped map[int]map[fileKey]bool // by PID: the files its maps show; nil: none shown
	comm   map[int]string
}

func newProcNamer(root string) *procNamer {
	return &procNamer{root: root, mapped: map[int]map[fileKey]bool{}, comm: map[int]string{}}
}

// names returns the command names of the processes among pids that map
// the file key, by PID.
func (n *procNamer) names(key fileKey, pids []int) map[int]string {
	if n.root == "" || len(pids) == 0 {
		return nil
	}
	names := map[int]string{}
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		dir := filepath.Join(n.root, strconv.Itoa(pid))
		m, ok := n.mapped[pid]
		if !ok {
			m = n.readMaps(dir)
			n.mapped[pid] = m
		}
		uses := m[key]
		if m == nil {
			// The leader's maps read empty (it exited, its threads live
			// on) or could not be read: as gc's scan reads them.
			found, _ := procFiles(dir, pid, map[fileKey]bool{key: true})
			uses = found[key]
		}
		if !uses {
			continue
		}
		comm, ok := n.comm[pid]
		if !ok {
			comm = readComm(dir)
			n.comm[pid] = comm
		}
		if comm != "" {
			names[pid] = comm
		}
	}
	return names
}

// readMaps returns the files that the maps in the /proc directory dir
// show, or nil if it shows none.
func (n *procNamer) readMaps(dir string) map[fileKey]bool {
	b, err := os.ReadFile(filepath.Join(dir, "maps"))
	if err != nil || len(b) == 0 {
		return nil
	}
	m := map[fileKey]bool{}
	for _, k := range mappedFiles(b) {
		m[k] = true
	}
	return m
}
