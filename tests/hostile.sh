#!/bin/sh
# tests/hostile.sh - the promises that hold when the user's shell is set up
# against the programs: resource limits, a restrictive umask, the signals a
# terminal sends, a small or read-only /dev/shm.  Part of make check; same
# output as run.sh.  Run from the top of the repository after building.

. tests/lib.sh
. tests/lib_faults.sh

# --- Helpers of this script ---------------------------------------------------

# unsaid TEXT: fail if the last expect's standard error contains TEXT, in
# capitals or not.
unsaid() {
	grep -F -i -q -e "$1" "$work/err" || return 0
	echo "standard error should not contain \"$1\"; it was:"
	cat "$work/err"
	return 1
}

# said_either TEXT1 TEXT2: fail unless the last expect's standard error
# contains one of them.  glibc and musl word some errors differently (ENOMEM:
# "Cannot allocate memory" / "Out of memory"; EMFILE: "Too many open files" /
# "No file descriptors available"), and make check runs both.
said_either() {
	grep -F -q -e "$1" -e "$2" "$work/err" && return 0
	echo "standard error lacks both \"$1\" and \"$2\"; it was:"
	cat "$work/err"
	return 1
}

# no_emfile: fail if the last expect's standard error speaks of running out
# of descriptors, in glibc's words, musl's or the programs' own hint.
no_emfile() {
	unsaid "Too many open files" && unsaid "No file descriptors available"
}

# limited LIMIT STATUS PROGRAM ARGS...: like expect, with "ulimit LIMIT" (an
# option and its value, e.g. "-f 0") set for PROGRAM alone; STATUS may be a
# signal's name (XFSZ): PROGRAM must be killed by it.  PROGRAM runs
# without $RUN: valgrind and AddressSanitizer need more address space and
# descriptors than the limits leave, and valgrind writes files of its own,
# which a file-size limit kills it for.  Standard error goes through a pipe,
# which a file-size limit cannot stop as it would a file; standard output to
# $work/out; standard input is the caller's.  Under "-n N" the program has
# only 0, 1 and 2 open when it starts.  An ASan build's LeakSanitizer needs
# descriptors at the end that "ulimit -n" does not leave (it spins forever
# without them): it is off there; the other cases check for leaks.
limited() {
	limit=$1
	want=$2
	shift 2
	leaks=${ASAN_OPTIONS:-}
	case $limit in -n*) leaks="${leaks:+$leaks:}detect_leaks=0" ;; esac
	# shellcheck disable=SC2086,SC2030 # $limit is two words; ASAN_OPTIONS for PROGRAM alone
	{
		(ulimit $limit && export ASAN_OPTIONS="$leaks" && exec "$@") 2>&1 >"$work/out"
		echo $? >"$work/status"
	} | cat >"$work/err"
	case $want in
	[0-9]*) status_is "$want" "$(cat "$work/status")" "ulimit $limit; $*" ;;
	*) killed_by "$want" "$(cat "$work/status")" ;;
	esac
}

# not_sanitized PROGRAM LIMIT: skip the case, visibly and also under CI, for
# a sanitizer build, which cannot start under "ulimit LIMIT": AddressSanitizer
# reserves terabytes of address space, and needs descriptors of its own.  The
# other builds of make check run the case.
not_sanitized() {
	grep -q -a __asan_init "$1" || return 0
	skip "a sanitizer build cannot start under ulimit $2"
}

# starts_under LIMIT: true if the reader, under its emulator if any, runs
# -h under "ulimit LIMIT".  A build that cannot start there is a visible
# skip, also under CI, which runs the case with the builds that can: a
# sanitizer build, an emulator (which needs more of what the limit counts:
# qemu-i386 reserves the whole 4 GiB), and under "ulimit -n 3" a dynamically
# linked one (the loader needs a descriptor to load the C library; the musl
# part of make check links statically).  Any other failure to start fails
# the case.
starts_under() {
	not_sanitized "$READER" "$1" || return
	# shellcheck disable=SC2086 # $1 is an option and its value; READER_EMU is words
	(ulimit $1 && exec $READER_EMU "$READER" -h) >/dev/null 2>"$work/start_err" && return 0
	if grep -q -e "error while loading shared libraries" "$work/start_err"; then
		skip "the dynamic loader cannot load $READER under ulimit $1 (only a static build gets to main)"
		return
	fi
	if [ -n "$READER_EMU" ]; then
		skip "$READER_EMU cannot start under ulimit $1: $(head -n 1 "$work/start_err")"
		return
	fi
	echo "$READER -h does not run under ulimit $1:"
	cat "$work/start_err"
	return 1
}

# with_umask MASK COMMAND...: run COMMAND with that umask; the case's own
# umask, under which it makes its files, stays as it is.
with_umask() (
	umask "$1" && shift && "$@"
)

# user_writer ARGS... / user_reader ARGS...: run a program as an ordinary
# user, whom the modes of a segment bind (root they do not): as nobody, with
# the copies in $other, when we are root (other_user_setup first); directly
# when we are an ordinary user already.
# shellcheck disable=SC2086 # RUN is a command line
user_writer() {
	if [ "$(id -u)" -eq 0 ]; then
		as_nobody $RUN $WRITER_EMU "$other/writer.out" "$@"
	else
		writer "$@"
	fi
}
# shellcheck disable=SC2086
user_reader() {
	if [ "$(id -u)" -eq 0 ]; then
		as_nobody $RUN $READER_EMU "$other/reader.out" "$@"
	else
		reader "$@"
	fi
}

# mode_is MODE: fail unless segment $seg has that mode (octal, as stat %a).
mode_is() {
	mode=$(stat -c %a "$(seg_file)") || return 1
	[ "$mode" = "$1" ] && return 0
	echo "segment $seg has mode $mode, not $1"
	return 1
}

# in_readonly_shm: as in_small_shm, a private mount namespace with a fresh
# 1 MiB tmpfs on /dev/shm, where $work/setup runs first; then a read-only
# bind mount of that fresh tmpfs goes on top of it, and $work/script runs
# there.  Only the private bind mount is made read-only: the machine's own
# /dev/shm is never remounted nor touched.  Both scripts may run commands as
# "step N COMMAND...", which keeps COMMAND's output, error and exit status in
# $work/outN, $work/errN and $work/statusN (see ran).  The script's status
# goes to $work/status, what it left in /dev/shm to $work/left.
in_readonly_shm() {
	mount_namespace || return
	rm -f "$work/status"
	[ -f "$work/setup" ] || : >"$work/setup"
	export WRITER READER RUN WRITER_EMU READER_EMU seg work
	# shellcheck disable=SC2016,SC2086 # expanded by the inner shell; $ns is words
	$ns sh -c '
		step() {
			n=$1
			shift
			"$@" >"$work/out$n" 2>"$work/err$n"
			echo $? >"$work/status$n"
		}
		mount -t tmpfs -o size=1M tmpfs /dev/shm || exit 3
		. "$work/setup"
		mount --bind -o ro /dev/shm /dev/shm || exit 3
		if (: >/dev/shm/.probe) 2>/dev/null; then
			echo "the bind mount of /dev/shm is not read-only"
			exit 3
		fi
		. "$work/script"
		echo $? >"$work/status"
		ls -A /dev/shm >"$work/left"'
	[ -f "$work/status" ] && return 0
	echo "the read-only /dev/shm could not be set up"
	return 1
}

# ran N STATUS: fail unless command N of in_readonly_shm's scripts exited
# with STATUS; its output becomes the last expect's, for said, unsaid,
# silent and printed.
ran() {
	cp "$work/out$1" "$work/out" && cp "$work/err$1" "$work/err" || return 1
	status_is "$2" "$(cat "$work/status$1")" "command $1 in the namespace"
}

# --- A file-size limit (ulimit -f) -------------------------------------------

# A writer that meets a file-size limit dies of SIGXFSZ (the header's
# pwrite meets it first, on Linux): it leaves an empty owner-only segment,
# which the next writer removes, then publishes, with no -f.  (No core.)
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
file_size_limit() {
	# shellcheck disable=SC3045 # not in POSIX, but in dash, bash and busybox sh
	ulimit -c 0
	printf 'some input\n' >"$work/input"
	for input in words stdin; do
		if [ "$input" = words ]; then
			limited "-f 0" XFSZ $WRITER_EMU "$WRITER" -n "$seg" hello </dev/null
		else
			limited "-f 0" XFSZ $WRITER_EMU "$WRITER" -n "$seg" - <"$work/input"
		fi || return 1
		if ! { present && expect 0 writer -n "$seg" hello &&
			expect 0 reader -n "$seg" && printf 'hello\n' >"$work/expected" &&
			printed "$work/expected" && absent; }; then
			echo "with $input" && return 1
		fi
	done
}
check "under ulimit -f 0 the writer dies of SIGXFSZ; the next writer publishes, with no -f" file_size_limit

# A failing writer whose standard error is a closed pipe (| true that ended
# before the error came) dies of SIGPIPE as it says why: the next writer
# removes what it left, and publishes, with no -f.
stderr_pipe_closed() {
	bytes 100 >"$work/long" # too long for a 64-byte segment
	{
		sleep 1
		writer -n "$seg" -s 64 - <"$work/long"
		echo $? >"$work/status"
	} 2>&1 | true
	killed_by PIPE "$(cat "$work/status")" && expect 0 writer -n "$seg" hello &&
		expect 0 reader -n "$seg" && printf 'hello\n' >"$work/expected" &&
		printed "$work/expected" && absent
}
check "a failing writer whose error goes to a closed pipe dies of SIGPIPE; the next writer publishes, no -f" stderr_pipe_closed

# --- The signals of a terminal -----------------------------------------------

# --- A restrictive umask -----------------------------------------------------

restrictive_umask() {
	if [ "$(id -u)" -eq 0 ]; then
		other_user_setup || return
	fi
	printf 'hi\n' >"$work/hi"
	bytes 100 >"$work/long" # too long for a 64-byte segment, which holds 48
	for mask in 0377 0777; do
		# A wrapper in $RUN makes files of its own, that under umask 0777 it
		# cannot open again (valgrind's vgdb FIFO): the programs run bare there.
		[ "$mask" = 0777 ] && RUN=
		if ! { expect 0 with_umask "$mask" user_writer -n "$seg" hi && mode_is 600 &&
			{ [ "$mask" != 0777 ] ||
				{ expect 0 with_umask "$mask" user_reader -k -n "$seg" &&
					printed "$work/hi" && present; }; } &&
			expect 0 with_umask "$mask" user_reader -n "$seg" && printed "$work/hi" && absent &&
			expect 1 with_umask "$mask" user_writer -n "$seg" -s 64 - <"$work/long" &&
			said "longer than" && absent; }; then
			echo "under umask $mask" && return 1
		fi
	done
}
check "under umask 0377 or 0777 a user's segment is 0600, and that user reads it; a failed write leaves nothing" restrictive_umask

# A default ACL on /dev/shm overrides the umask: a new file gets its mode
# from the ACL, cut only by the mode that shm_open asks for.  With one that
# gives everyone read and write, the segment is still 0600.
default_acl_mode() {
	need setfacl || return
	cat >"$work/script" <<-'EOF'
		setfacl -d -m u::rw,g::rw,o::rw /dev/shm && $RUN $WRITER_EMU "$WRITER" -n "$seg" hi 2>"$work/err" &&
			stat -c %a "/dev/shm/${seg#/}" >"$work/out" && $RUN $READER_EMU "$READER" -n "$seg" >/dev/null 2>&1
	EOF
	in_small_shm size=1M || return
	exited 0 && echo 600 >"$work/expected" && printed "$work/expected" && nothing_left
}
check "with a default ACL on /dev/shm that lets everyone write, the segment is still mode 0600" default_acl_mode

# --- Few descriptors (ulimit -n) ---------------------------------------------

# The writer has 0, 1 and 2 open, and its segment takes the fourth and last
# descriptor that "ulimit -n 4" allows: failing, it must remove its segment
# with none to spare (the name check asks lstat, with no descriptor).
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
few_descriptors() {
	bytes 100 >"$work/long" # too long for a 64-byte segment, which holds 48
	limited "-n 4" 1 $WRITER_EMU "$WRITER" -n "$seg" -s 64 - <"$work/long" && said "longer than" &&
		absent && no_emfile
}
check "under ulimit -n 4 a failing writer still removes its segment" few_descriptors

# --- A small /dev/shm ----------------------------------------------------------

# 600000 bytes: the pieces reserved as the input comes double (64K, 64K,
# 128K, 256K), and the next, 512K, does not fit in 1 MiB after the 512K
# before it; half of it does.
large_input_small_shm() {
	head -c 600000 /dev/urandom >"$work/payload"
	cat >"$work/script" <<-'EOF'
		$RUN $WRITER_EMU "$WRITER" -n "$seg" -s 1G - <"$work/payload" 2>"$work/err" &&
			$RUN $READER_EMU "$READER" -n "$seg" >"$work/out" 2>>"$work/err"
	EOF
	in_small_shm size=1M || return
	exited 0 && printed "$work/payload" && nothing_left
}
check "600000 bytes of input into a 1G segment on a 1 MiB /dev/shm go through whole" large_input_small_shm

# A /dev/shm full at whatever point the writer meets it: every run fails and
# leaves nothing behind, whatever its message says, or fits and its message
# is read whole.  20000 bytes in words and from standard input, with 0 to 6
# pages free (5 hold the header and the message).
full_at_any_point() {
	bytes 20000 >"$work/payload"
	cat >"$work/script" <<-'EOF'
		page=$(getconf PAGESIZE)
		for free in 0 1 2 3 4 5 6; do
			rm -f /dev/shm/filler
			head -c $((1048576 - free * page)) /dev/zero >/dev/shm/filler 2>/dev/null
			for input in words stdin; do
				if [ "$input" = words ]; then
					$RUN $WRITER_EMU "$WRITER" -n "$seg" -s 64K "$(cat "$work/payload")" 2>/dev/null
				else
					$RUN $WRITER_EMU "$WRITER" -n "$seg" -s 64K - <"$work/payload" 2>/dev/null
				fi
				status=$?
				if [ "$status" -eq 0 ]; then # it fitted: the message is whole
					$RUN $READER_EMU "$READER" -n "$seg" | wc -c >"$work/count"
					[ "$(cat "$work/count")" -eq $((20000 + $([ "$input" = words ] && echo 1 || echo 0))) ] ||
						status=2
				fi
				left=$(ls -A /dev/shm | grep -v -x filler)
				[ "$status" -le 1 ] && [ -z "$left" ] && continue
				echo "$input with $free pages free: exit $status; left: $left" >"$work/err"
				return 1
			done
		done
		rm -f /dev/shm/filler
	EOF
	in_small_shm size=1M || return
	exited 0 && nothing_left
}
check "a writer that finds /dev/shm full at any point fails and leaves nothing, or fits and works" full_at_any_point

# A /dev/shm with room but no inode left: no file can be created at all, and
# the hint says so, not that the message is too long.
no_inode_left() {
	cat >"$work/script" <<-'EOF'
		i=0
		while touch "/dev/shm/filler$i" 2>/dev/null; do i=$((i + 1)); done
		$RUN $WRITER_EMU "$WRITER" -n "$seg" hi >"$work/out" 2>"$work/err"
		status=$?
		rm -f /dev/shm/filler*
		return "$status"
	EOF
	in_small_shm size=1M,nr_inodes=4 || return
	exited 1 && said "shm_open $seg: No space left on device (/dev/shm can hold no more files" &&
		documented NAME && unsaid "shorter message" && nothing_left
}
check "when /dev/shm has no inode left the writer says it can hold no more files, not: send a shorter message" no_inode_left

# --- A read-only /dev/shm ------------------------------------------------------

readonly_write() {
	cat >"$work/script" <<-'EOF'
		step 1 $RUN $WRITER_EMU "$WRITER" -n "$seg" hi
	EOF
	in_readonly_shm || return
	ran 1 1 && said "Read-only file system" && unsaid "remove it" && unsaid "another user" &&
		nothing_left
}
check "on a read-only /dev/shm the writer says Read-only file system, exit 1, and blames nothing else" readonly_write

readonly_segment() {
	printf 'written before\n' >"$work/expected"
	cat >"$work/setup" <<-'EOF'
		step 0 $RUN $WRITER_EMU "$WRITER" -n "$seg" written before
	EOF
	cat >"$work/script" <<-'EOF'
		step 1 $RUN $WRITER_EMU "$WRITER" -f -n "$seg" x
		step 2 $RUN $READER_EMU "$READER" -n "$seg"
		step 3 $RUN $READER_EMU "$READER" -k -n "$seg"
	EOF
	in_readonly_shm || return
	if ! ran 0 0; then
		echo "(writing the segment before the read-only mount)" && return 1
	fi
	if ! { ran 1 1 && said "Read-only file system" && unsaid "another user" &&
		unsaid "remove it"; }; then
		echo "(writer.out -f)" && return 1
	fi
	if ! { ran 2 1 && said "Read-only file system" && unsaid "remove it" &&
		unsaid "another user" && silent; }; then
		echo "(reader.out)" && return 1
	fi
	if ! { ran 3 0 && printed "$work/expected"; }; then
		echo "(reader.out -k)" && return 1
	fi
}
check "a segment on a read-only /dev/shm: writer -f and reader fail with Read-only file system; reader -k prints it" readonly_segment

# --- Out of descriptors, out of address space ----------------------------------

# With 0, 1 and 2 open, "ulimit -n 3" leaves no descriptor for the segment.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
out_of_descriptors() {
	printf 'a whole message\n' >"$work/expected"
	expect 0 writer -n "$seg" a whole message || return 1
	starts_under "-n 3" || return
	limited "-n 3" 1 $READER_EMU "$READER" -n "$seg" &&
		said_either "shm_open $seg: Too many open files" "shm_open $seg: No file descriptors available" &&
		unsaid "remove it" && silent && present &&
		expect 0 reader -n "$seg" && printed "$work/expected" && absent
}
check "out of descriptors (ulimit -n 3) the reader says Too many open files, and the message stays whole" out_of_descriptors

# With standard input closed the loader can start the reader under ulimit -n
# 3 (it borrows descriptor 0), and the segment then gets 0 too: moving it
# above 2 is what fails.  The reader says so, reads nothing from its
# segment, and keeps the message.  Without $RUN: a checker needs descriptors
# of its own.
no_room_above_standard_streams() {
	not_sanitized "$READER" "-n 3" || return
	printf 'a whole message\n' >"$work/expected"
	expect 0 writer -n "$seg" a whole message || return 1
	# shellcheck disable=SC2016 # expanded by the inner shell
	# shellcheck disable=SC2086 # READER_EMU is words
	timeout 60 sh -c 'exec 0<&-; ulimit -n 3; exec "$@"' sh $READER_EMU "$READER" -n "$seg" \
		>"$work/out" 2>"$work/err"
	status_is 1 $? "the reader under ulimit -n 3" && silent && said "fcntl $seg: " && present &&
		expect 0 reader -n "$seg" && printed "$work/expected" && absent
}
check "with stdin closed under ulimit -n 3 the reader cannot move its segment above 2: exit 1, the message kept" no_room_above_standard_streams

# 200000 KiB of address space: enough to start, not to map a message of
# 300 MiB (the length of a short one made larger: the segment is sparse).
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
out_of_address_space() {
	printf 'hi\n' >"$work/expected"
	expect 0 writer -n "$seg" -s 1G hi || return 1
	starts_under "-v 200000" || return
	put_length 314572800 && limited "-v 200000" 1 $READER_EMU "$READER" -n "$seg" &&
		said_either "mmap $seg: Cannot allocate memory" "mmap $seg: Out of memory" &&
		silent && present && put_length 3 && expect 0 reader -n "$seg" &&
		printed "$work/expected" && absent
}
check "out of address space (ulimit -v) the reader cannot map a 300 MiB message: exit 1, and it stays" out_of_address_space

# A segment of nearly 8 EiB (2^63 bytes): no address space can map it.  The
# writer fails at its mmap and leaves nothing; a reader maps only the header
# and the message, so one planted in such a segment is printed.
beyond_any_address_space() {
	expect 1 writer -n "$seg" -s 8589934591G hi && said "mmap $seg: " && absent &&
		printf 'hello\n' >"$work/expected" && expect 0 writer -n "$seg" -s 64 hello &&
		truncate -s 9223372035781033984 "$(seg_file)" && expect 0 reader -n "$seg" &&
		printed "$work/expected" && absent
}
check "a segment of nearly 2^63 bytes: the writer cannot map it and leaves nothing; a planted message is printed" beyond_any_address_space

summary
