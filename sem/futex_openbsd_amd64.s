#include "textflag.h"

// The trampoline to libc's futex, which futex_openbsd.go calls through the
// runtime's syscall6 (the pattern of golang.org/x/sys/unix).
TEXT libc_futex_trampoline<>(SB),NOSPLIT,$0-0
	JMP	libc_futex(SB)
GLOBL	·libc_futex_trampoline_addr(SB), RODATA, $8
DATA	·libc_futex_trampoline_addr(SB)/8, $libc_futex_trampoline<>(SB)
