// Command benchproc runs bench/run's multi-process and scale figures for
// the Go side: increments under the lock word by several processes, the
// cross-process wake latency (ping-pong), and the creation of many objects
// for "posixshm ls". It re-executes itself for the child processes and
// prints "name value unit" lines.
//
// Linux only, like bench/run; elsewhere it says so and exits 1.
//
//	benchproc increments -p P -m M -dir DIR
//	benchproc pingpong -n N -dir DIR
//	benchproc mkobjects -n N -dir DIR
package main
