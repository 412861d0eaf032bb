# shellcheck shell=sh
# tests/lib_faults.sh - what the scripts of make check share on top of
# tests/lib.sh: processes in the background, a private /dev/shm, another
# user.  Sourced after tests/lib.sh, not run.

# The programs by absolute path: some cases run them from another directory,
# in another mount namespace or as another user.
case $WRITER in /*) ;; *) WRITER=$PWD/$WRITER ;; esac
case $READER in /*) ;; *) READER=$PWD/$READER ;; esac

# random_below N: a random whole number from 0 to N - 1.
random_below() {
	echo $(($(od -An -N4 -tu4 /dev/urandom) % $1))
}

# payload_segment: segment $seg holding $work/payload, 1 MiB of random
# bytes: more than a pipe holds, so a reader printing it into a pipe that
# nobody drains stops half way, holding the lock.
payload_segment() {
	head -c 1048576 /dev/urandom >"$work/payload" &&
		expect 0 writer -n "$seg" -s 2M - <"$work/payload"
}

# start_slow_reader [ARGS...]: start a reader of $seg in the background
# (with ARGS, such as -k; a consuming one without), printing into the FIFO
# $work/pipe, and return once its first byte came out: it holds the lock and
# waits for the pipe to drain.  Its process id is in $slow; the FIFO's
# reading end is descriptor 4.
# shellcheck disable=SC2086 # RUN is a command line
start_slow_reader() {
	rm -f "$work/pipe" && mkfifo "$work/pipe" || return 1
	(exec env --default-signal=INT $RUN $READER_EMU "$READER" -n "$seg" "$@" >"$work/pipe" 2>"$work/slow_err") &
	slow=$!
	exec 4<"$work/pipe"
	dd bs=1 count=1 <&4 >"$work/slow_out" 2>/dev/null && wait_for sleeping "$slow"
}

# finish_slow_reader: drain the slow reader's pipe; fail unless it printed
# the whole payload and exited 0.
finish_slow_reader() {
	cat <&4 >>"$work/slow_out"
	exec 4<&-
	wait "$slow" || { echo "the slow reader failed: $(cat "$work/slow_err")" && return 1; }
	cmp "$work/payload" "$work/slow_out"
}

# start_writer SIGINT ARGS...: start the writer on $seg in the background
# with ARGS, its standard input the FIFO $work/input (descriptor 3 is the
# other end), its standard error in $work/writer_err, and SIGINT "default",
# or "ignored" as a script's background job gets it.  Return once it has
# created the segment and waits for input; its process id is in $pid.
# shellcheck disable=SC2086 # RUN is a command line
start_writer() {
	sigint=$1
	shift
	rm -f "$work/input" && mkfifo "$work/input" || return 1
	if [ "$sigint" = default ]; then
		(exec env --default-signal=INT,QUIT $RUN $WRITER_EMU "$WRITER" -n "$seg" "$@" \
			<"$work/input" 2>"$work/writer_err") &
	else
		(exec $RUN $WRITER_EMU "$WRITER" -n "$seg" "$@" <"$work/input" 2>"$work/writer_err") &
	fi
	pid=$!
	exec 3>"$work/input"
	wait_for [ -e "$(seg_file)" ] && wait_for sleeping "$pid"
}

# --- System calls, seen and steered with strace ------------------------------

# traced OPTIONS... PROGRAM ARGS...: run PROGRAM under strace -qq with OPTIONS.
# shellcheck disable=SC2154 # no_leaks comes from tests/lib.sh
traced() {
	env "$no_leaks" strace -qq "$@"
}

# held_for MICROSECONDS: how long to hold a program at a call so that other
# programs act meanwhile: as given, or three times that under $RUN, a checker
# such as valgrind, under which every program starts and runs far slower.
held_for() {
	if [ -z "$RUN" ]; then echo "$1"; else echo $(($1 * 3)); fi
}

# held_at CALL enter|exit MICROSECONDS PROGRAM ARGS...: start PROGRAM (with
# $RUN) in the background under strace, held for that long (held_for) on
# entering, or leaving, its first CALL (a list: unlink,unlinkat); the
# redirections of the call apply to it.  strace's process id goes to $held
# (PROGRAM is its child).  held_at_flock MICROSECONDS PROGRAM ARGS...: held on
# entering its first flock.
# shellcheck disable=SC2086 # RUN is a command line
held_at() {
	call=$1 when=$2 delay=$(held_for "$3")
	shift 3
	(exec env "$no_leaks" strace -qq -f -o /dev/null -e trace="$call" \
		-e inject="$call:delay_$when=$delay:when=1" $RUN "$@") &
	# shellcheck disable=SC2034 # read by the caller
	held=$!
}
held_at_flock() {
	held_at flock enter "$@"
}

# counted: skip the case when $RUN wraps the programs, or an emulator runs
# them.  strace's when=N counts a program's own calls of one kind, which a
# wrapper such as valgrind makes more of, and an emulator makes in its own
# way; the native plain, ASan and musl builds run the case.
counted() {
	[ -z "$RUN" ] || { skip "strace must count the program's own calls, not those of $RUN"; return; }
	native "strace would count the emulator's calls, not the program's"
}

# held_open: true once the program that held_at_flock started (traced by
# strace $held) has segment $seg open.
held_open() {
	tracee=$(traced_child "$held") && has_open "$tracee"
}

# calls_from_open TRACE: the system calls in TRACE (strace -o, one process)
# from the one that opens segment $seg on, before exit_group: a line "NAME N"
# for each, the Nth call of that name since the program started, as strace's
# when=N counts them.
calls_from_open() {
	awk -v path="\"/dev/shm/${seg#/}\"" '
		/^(---|\+\+\+)/ { next }
		{ name = $0; sub(/\(.*/, "", name); count[name]++ }
		!started && index($0, path) { started = 1 }
		started && name != "exit_group" { print name, count[name] }' "$1"
}

# last_call_naming_segment TRACE: "NAME N" for the last call in TRACE that
# names segment $seg's file: the writer's look at its name after publishing.
last_call_naming_segment() {
	awk -v path="\"/dev/shm/${seg#/}\"" '
		/^(---|\+\+\+)/ { next }
		{ name = $0; sub(/\(.*/, "", name); count[name]++ }
		index($0, path) { last = name " " count[name] }
		END { print last }' "$1"
}

# has_open PID: true once process PID has segment $seg open.
has_open() {
	for fd in "/proc/$1/fd"/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "$(seg_file)" ] && return 0
	done
	return 1
}

# locked_by_someone: true once the segment's file has a lock in /proc/locks.
locked_by_someone() {
	inode=$(stat -c %i "$(seg_file)" 2>/dev/null) || return 1
	grep -q ":$inode " /proc/locks
}

# published: true once segment $seg's state word says SHM_READY ("REDY").
published() {
	[ "$(od -An -N4 -tu4 "$(seg_file)" 2>/dev/null | tr -d ' ')" = $((0x52454459)) ]
}

# mount_namespace: set $ns to the command that runs a command in a private
# mount namespace (unshare -m as root, unshare -r -m as an ordinary user), or
# skip the case (fail it under CI) where none can be made.
# shellcheck disable=SC2086 # $ns is words
mount_namespace() {
	if [ "$(id -u)" -eq 0 ]; then
		ns="unshare -m"
	else
		ns="unshare -r -m"
	fi
	need unshare || return
	$ns true 2>/dev/null && return 0
	[ "${CI:-}" = true ] && { echo "CI must be able to run: $ns"; return 1; }
	skip "cannot make a private mount namespace here ($ns)"
}

# in_small_shm OPTIONS: run $work/script in a private mount namespace whose
# /dev/shm is a fresh tmpfs mounted with OPTIONS (size=1M: 1 MiB), the real
# /dev/shm never touched.  Its exit status goes to $work/status, and
# what it left in that /dev/shm to $work/left.
in_small_shm() {
	mount_namespace || return
	options=$1
	export WRITER READER RUN WRITER_EMU READER_EMU seg work options
	# shellcheck disable=SC2016,SC2086 # expanded by the inner shell; $ns is words
	$ns sh -c '
		mount -t tmpfs -o "$options" tmpfs /dev/shm || exit 3
		. "$work/script"
		echo $? >"$work/status"
		ls -A /dev/shm >"$work/left"'
}

# exited N: fail unless the script in the namespace recorded exit status N.
exited() {
	got=$(cat "$work/status")
	[ "$got" -eq "$1" ] && return 0
	echo "exit status $got, not $1 (above 128: killed by a signal)"
	cat "$work/err"
	return 1
}

# nothing_left: fail unless the private /dev/shm was empty at the end.
nothing_left() {
	[ ! -s "$work/left" ] && return 0
	echo "left in /dev/shm: $(cat "$work/left")"
	return 1
}

# --- Another user ------------------------------------------------------------

# as_nobody COMMAND...: run COMMAND as the user nobody (needs root).
as_nobody() {
	setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups "$@"
}

# The cases run as another user get copies of the programs in $other, a
# directory of their own under /tmp, where nobody can run them wherever the
# checkout and $TMPDIR are (a home directory of mode 0700, say).  The
# reports of a checker in $RUN go where check.sh put them, under /tmp too.
if [ "$(id -u)" -eq 0 ] && other=$(mktemp -d /tmp/shm_demo_other.XXXXXX); then
	chmod 755 "$other" && cp "$WRITER" "$other/writer.out" && cp "$READER" "$other/reader.out" &&
		chmod 755 "$other/writer.out" "$other/reader.out"
fi

# other_user_setup: skip unless root, and unless nobody can run the copies.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
other_user_setup() {
	[ "$(id -u)" -eq 0 ] || { skip "needs root to act as another user"; return; }
	need setpriv || return
	[ -n "$other" ] && as_nobody $WRITER_EMU "$other/writer.out" -h >/dev/null 2>&1 && return 0
	if [ "${CI:-}" = true ]; then
		echo "nobody cannot run the programs copied to ${other:-/tmp}, and CI must run this case"
		return 1
	fi
	skip "the user nobody cannot run the programs copied to ${other:-/tmp}"
}
