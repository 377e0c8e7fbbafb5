package main

import (
	"runtime/debug"
	"strings"
)

// stampedVersion is a version given at link time, for builds that carry
// no other (a release tarball without .git, -buildvcs=false):
//
//	go build -ldflags "-X main.stampedVersion=v1.2.3" ./cmd/posixshm
//
// It wins over what the go command recorded.
var stampedVersion string

// version describes this build for --version: stampedVersion if set, else
// what the go command recorded in the binary: the module version for "go
// install .../cmd/posixshm@v1.2.3" (or a pseudo-version for a build from a
// tagged or untagged checkout); for a build that has none ("(devel)": go
// run, go test, -buildvcs=false) the commit it was built from, when known.
func version(bi *debug.BuildInfo, ok bool) string {
	if stampedVersion != "" {
		v := "posixshm " + stampedVersion
		if ok && bi.GoVersion != "" {
			v += " (" + bi.GoVersion + ")"
		}
		return v
	}
	if !ok {
		return "posixshm: no build information (built without module support)"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "development build"
		var rev, at string
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		switch {
		case rev == "":
			v += " without version control information"
		default:
			v += ", commit " + rev[:min(len(rev), 12)]
			if at != "" {
				v += " of " + at
			}
			if modified {
				v += ", with uncommitted changes"
			}
		}
	}
	parts := []string{"posixshm", v}
	if bi.GoVersion != "" {
		parts = append(parts, "("+bi.GoVersion+")")
	}
	return strings.Join(parts, " ")
}
