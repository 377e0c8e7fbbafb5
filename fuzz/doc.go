// Package fuzz holds the go test -fuzz targets of the module; it has no
// code of its own. Run one with, for example:
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzName$' -fuzztime 30s
//	go test ./fuzz -run '^$' -fuzz '^FuzzFlags$' -fuzztime 30s
//	go test ./fuzz -run '^$' -fuzz '^FuzzAppendPath$' -fuzztime 30s
//	go test ./fuzz -run '^$' -fuzz '^FuzzHeader$' -fuzztime 30s
//
// Without -fuzz, go test runs every target on its seeds: the f.Add calls
// and the files under testdata/fuzz.
//
// A duration budget can end in "context deadline exceeded" although
// nothing was found: Go's fuzz coordinator sometimes reports its own
// -fuzztime deadline as a failure. A crasher is always written under
// testdata/fuzz; with no new file there, the run found nothing. CI gives
// each target an execution count instead (-fuzztime 200000x), which sets
// no deadline; see .ci/run.
package fuzz
