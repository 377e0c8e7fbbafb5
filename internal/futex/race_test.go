//go:build race

package futex

const raceEnabled = true
