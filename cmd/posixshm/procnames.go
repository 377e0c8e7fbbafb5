package main

import (
	"path/filepath"
	"strconv"
)

// procNames returns the command names of the processes among pids that
// map the file key or hold it open, as the /proc file system mounted at
// root shows them (procFiles, as gc's scan reads them), by PID. The PIDs a
// segment's attachments record are the ones their processes see
// themselves as: in another PID namespace (a container) such a PID may
// name another process here, or none, so a name is given only to a PID
// whose process is seen using the file. Where there is no /proc (root is
// ""), nothing is named.
func procNames(root string, key fileKey, pids []int) map[int]string {
	if root == "" || len(pids) == 0 {
		return nil
	}
	want := map[fileKey]bool{key: true}
	names := map[int]string{}
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		dir := filepath.Join(root, strconv.Itoa(pid))
		if found, _ := procFiles(dir, pid, want); found[key] {
			if comm := readComm(dir); comm != "" {
				names[pid] = comm
			}
		}
	}
	return names
}
