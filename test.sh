#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian machine
# (libmd-dev for the C reference checks; gcc and find(1) are usually there;
# on x86-64 the i686 cross compiler for 32-bit glibc's semaphores),
# then runs every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")"
need=()
[ -e /usr/include/sha2.h ] || need+=(libmd-dev)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v find >/dev/null || need+=(findutils)
# 32-bit glibc's semaphores (package sem) are tested against a 32-bit x86 build.
[ "$(uname -m)" != x86_64 ] || command -v i686-linux-gnu-gcc >/dev/null || need+=(gcc-i686-linux-gnu)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq "${need[@]}"
fi
exec go test -race -count=1 "$@" ./...
