//go:build !race

package posixshm

// raceEnabled: this build runs under the race detector (see race.go).
const raceEnabled = false
