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
package fuzz
