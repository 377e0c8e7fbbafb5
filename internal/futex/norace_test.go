//go:build !race

package futex

const raceEnabled = false
