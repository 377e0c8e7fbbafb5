package lock

import "time"

// SetSleepHook has f see the length of every sleep of a Mutex's waiter in
// this process, futex(2) timeout or backoff (nil: none).
func SetSleepHook(f func(d time.Duration)) { sleepHook = f }

// Waiting is the number of m's goroutines inside Lock's wait, the ones
// Close waits for.
func Waiting(m *Mutex) int { return int(m.waiting.Load()) }
