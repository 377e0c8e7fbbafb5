package main

// topics are the help texts that belong to no command: "posixshm help
// TOPIC".
var topics = map[string]string{
	"json": jsonHelp,
}

// jsonHelp documents the JSON that ls, stat and gc print: one vocabulary,
// the fields of objectJSON (object.go) and gcEntry's verdict.
const jsonHelp = `posixshm ls --json, stat --json and gc --json describe objects with the same
fields. ls and gc print one JSON array; stat prints one JSON object per NAME,
one per line (jq reads them as a stream; jq -s makes an array of them). Field
names are stable; new fields may be added. Sizes are in bytes (-h changes the
text only), times are RFC 3339 with nanoseconds.

Every object (ls, stat, gc):

  kind               what it is:
                       "segment"  a posixshm segment
                       "plain"    a shared memory object that is not a segment:
                                  another program's (Python's shared_memory, a
                                  C program's shm_open), or a damaged or
                                  unsupported segment; not_segment says which
                       "sem"      a named semaphore's file (sem_open's)
                       "temp"     the temporary file a segment is built in
                                  (gc, where there is no O_TMPFILE)
                       "other"    a file that was not read: another user's (for
                                  a user other than root), one that could not be
                                  opened, or, for gc, not a regular file or one
                                  with other hard links (a semaphore's file
                                  stays "sem")
  name               the object's name: the one its file name tells (every
                     layout but OpenBSD's, whose file names are hashes: Linux's
                     /dev/shm/NAME, glibc's semaphores sem.NAME), else the one
                     a segment's header records (version 3) if that name leads
                     to this file (a renamed or copied file's does not; see
                     segment.name for the claim itself); stat: the NAME given.
                     null where nothing tells it ("-" in text)
  name_truncated     true when the header holds only the first 4096 bytes of a
                     longer name ("…" after it in text); left out otherwise
  path               the object's file
  name_bytes,        the bytes of name and of path, in base64, where they are
  path_bytes         not UTF-8; left out otherwise. JSON strings hold UTF-8
                     only: there each bad byte reads U+FFFD, so two names (or
                     paths) may read alike; act on these bytes instead
  uid, owner         its owner's user ID, and name (left out if it has none)
  mode               its type and permission bits, as ls -l shows them
  size               its size
  atime, mtime       its last access and modification
  daily_applies      whether OpenBSD's daily(8) verdict applies: in OpenBSD's
                     layout (--dir, and this system's convention on OpenBSD)
  daily_removable_at the first moment daily(8)'s find would match it, and
  daily_days_left    the days until then, to a tenth (negative: overdue); both
                     only when daily_applies
  daily_at_risk      removable within a day, or past; false when daily(8)
                     does not apply ("posixshm help stat" has the rule)
  users              who uses it, where that was looked at:
                       count      how many
                       pids       their PIDs
                       overflow   attachments without a slot (no PID)
                       processes  [{"pid": N, "comm": "nginx"}]: the PIDs
                                  again, each with its command name where /proc
                                  shows that process using the file (Linux;
                                  comm left out elsewhere, and for a PID that
                                  means another process here, as a process in
                                  another PID namespace records one)
                     For a segment: its live attachments, from the record locks
                     the kernel holds for them (ls, stat, gc). For a plain
                     object or a semaphore: the processes /proc shows mapping it
                     or holding it open (stat and gc, on Linux). Left out where
                     not looked at (ls's plain objects and semaphores).
  users_unknown      why users is left out, or may be incomplete (processes
                     whose /proc entries could not be read...)
  segment            a segment's header, or null:
                       version, header_size, data_offset, data_size
                       name, name_truncated   the name the header records; null
                                              for version 2, which records none
                       tx_log_offset, tx_log_size   the undo log (0, 0: none)
                       created, refreshed     creation and last refresh
                       slots, remove_when_unused
                       lock_word, lock_held, lock_holder (the PID the holder
                       recorded; 0: free, or a holder without a slot),
                       lock_holder_alive
                       notifications          Notify and NotifyAll calls,
                                              modulo 2^32 (wait --since)
                       notify_waiters         a process may be waiting
                       users, users_error     as users and users_unknown
  not_segment        why segment is null
  semaphore          a semaphore's state: format ("glibc 64-bit", "glibc
                     32-bit", "OpenBSD"), value, waiters (as the format counts
                     them: dead waiters included); left out for other kinds
  semaphore_unknown  why the semaphore could not be read
  warning            stat: what went wrong on the side (an access time that
                     could not be put back)

gc adds its verdict:

  action             "removed", "kept", or "would_remove" (--dry-run)
  reason             why, one word ("posixshm help gc" lists them)
  detail             the reason in words
  last_used          when it was last used, and
  idle_seconds       how long ago, where known
  attached, overflow a segment's live attachments: users.pids and
                     users.overflow again, as gc printed them before users
  open_by            the PIDs /proc shows mapping it or holding it open

Changed from the release before: ls's kind was "shm" for every shared memory
object (now "segment", "plain" or "other") and gc's was "plain" for
semaphores (now "sem"); stat with several NAMEs prints several objects. name,
name_truncated, users.processes, segment.name, segment.tx_log_* and gc's
mode, atime, mtime, daily_*, users and segment are new.

examples:
  posixshm ls --json | jq -r '.[] | select(.kind == "segment") | .name // .path'
  posixshm ls --json | jq '.[] | select(.users.count == 0) | .path'
  posixshm stat --json /a /b | jq -s 'map({name, size})'
  posixshm gc --dry-run --json | jq '.[] | select(.action == "would_remove") | {name, path, reason}'
`
