//go:build race

package posixshm

// raceEnabled: this build runs under the race detector, whose
// instrumentation makes some code of the standard library allocate where
// it otherwise does not (see hashState).
const raceEnabled = true
