#!/bin/sh
# Build the C lock baselines into a temporary directory and run them.
# Output: one "name value unit" line per figure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc=${CC:-gcc}
$cc -O2 -pthread -o "$tmp/pthread_uncontended" "$here/pthread_uncontended.c"
$cc -O2 -pthread -o "$tmp/increments" "$here/increments.c"
"$tmp/pthread_uncontended"
"$tmp/increments" pthread 1000000
"$tmp/increments" flock 1000000
