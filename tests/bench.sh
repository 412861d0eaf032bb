#!/bin/sh
# tests/bench.sh - what the pair costs, next to the standard tools doing the
# same work: make bench.  Not a test: it prints one table and never fails on
# a number.  Needs sh and coreutils; uses /usr/bin/time for the memory and
# fault lines, strace for row 6, and a C compiler (CC, default cc) for rows 6
# and 7 (lesson two's live pair, built from README.md), where they exist.
# Each figure is the median of ROUNDS runs with [min-max]; each ratio
# compares medians of runs taken in turn (ours, baseline, ours, ...).
#
# Environment: WRITER, READER (default ./writer.out, ./reader.out), ROUNDS.

WRITER=${WRITER:-./writer.out}
READER=${READER:-./reader.out}
ROUNDS=${ROUNDS:-11}

work=$(mktemp -d "${TMPDIR:-/tmp}/shm_demo_bench.XXXXXX") || exit 1
# Every segment and file made here starts with the prefix: the process id and
# the work directory's random letters, since ids come round again.
prefix="shm_demo_bench_$$_${work##*.}"
seg="/${prefix}_seg"
shm_file="/dev/shm/${prefix}_seg"
data="/dev/shm/$prefix" # tmpfs files: payload, out, the copy cat makes
trap 'rm -rf "$work" /dev/shm/"$prefix"_*' EXIT
trap 'exit 1' HUP INT TERM

now() { date +%s%N; }

# clock_it FILE COMMAND...: run COMMAND once and add the nanoseconds it took to FILE.
clock_it() {
	file=$1
	shift
	start=$(now)
	"$@" >/dev/null
	echo $(($(now) - start)) >>"$file"
}

# repeat N COMMAND...: run COMMAND N times; short runs are timed in batches.
repeat() {
	count=$1
	shift
	while [ "$count" -gt 0 ]; do
		"$@"
		count=$((count - 1))
	done
}

# compare SETUP OURS BASELINE: ROUNDS runs of each in turn, SETUP (untimed)
# before each; the times go to $work/ours and $work/base.
# shellcheck disable=SC2086 # each argument is a command line: split it
compare() {
	rm -f "$work/ours" "$work/base"
	round=0
	while [ "$round" -lt "$ROUNDS" ]; do
		$1
		clock_it "$work/ours" $2
		$1
		clock_it "$work/base" $3
		round=$((round + 1))
	done
}

median() { sort -n "$1" | sed -n "$(((ROUNDS + 1) / 2))p"; }
lowest() { sort -n "$1" | head -n 1; }
highest() { sort -n "$1" | tail -n 1; }

# ms NS [PER]: NS nanoseconds (divided by PER) as milliseconds, 3 decimals.
ms() {
	us=$(($1 / ${2:-1} / 1000))
	printf '%d.%03d' $((us / 1000)) $((us % 1000))
}

# figure FILE [PER]: "median ms [min-max]".
figure() {
	printf '%s ms [%s-%s]' "$(ms "$(median "$1")" "${2:-1}")" \
		"$(ms "$(lowest "$1")" "${2:-1}")" "$(ms "$(highest "$1")" "${2:-1}")"
}

# ratio A B: A / B with 2 decimals; verdict RATIO TARGET: met or missed.
ratio() {
	hundredths=$(($1 * 100 / $2))
	printf '%d.%02d' $((hundredths / 100)) $((hundredths % 100))
}
verdict() {
	r=$(echo "$1" | tr -d .)
	t=$(echo "$2" | tr -d .)
	if [ "$r" -le "$t" ]; then echo met; else echo MISSED; fi
}

# row N WHAT OURS BASELINE RATIO TARGET: one line of the table.
row() {
	printf '%-2s %-48s %-28s %-28s %-5s <= %-5s %s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$(verdict "$5" "$6")"
}

# line N WHAT OURS BASELINE TARGET VERDICT: a line whose target is not a ratio.
line() {
	printf '%-2s %-48s %-28s %-28s %-14s %s\n' "$@"
}

nothing() { :; }
remove() { rm -f "$shm_file" "$data"_copy; }

echo "machine: $(nproc) cores, $(uname -s) $(uname -r) $(uname -m)," \
	"$(getconf GNU_LIBC_VERSION 2>/dev/null || echo 'libc: not glibc'), $(date -u +%Y-%m-%d)"
printf '%-2s %-48s %-28s %-28s %-14s\n' "#" "what" "ours" "baseline" "ratio, target"

# 1. The demo against two process starts.  20 runs a batch, so that the
#    clock's own start-up is spread thin.
demo_pair() { "$WRITER" -n "$seg" && "$READER" -n "$seg"; }
two_trues() { /bin/true && /bin/true; }
compare nothing "repeat 20 demo_pair" "repeat 20 two_trues"
row 1 "writer+reader, default message / 2x /bin/true" "$(figure "$work/ours" 20)" \
	"$(figure "$work/base" 20)" "$(ratio "$(median "$work/ours")" "$(median "$work/base")")" 1.10

# 2. The reader on a 1 GiB segment against a 4 KiB one, same message.
"$WRITER" -n "$seg" -s 1G hello || exit 1
"$WRITER" -n "${seg}_small" -s 4K hello || exit 1
read_big() { "$READER" -k -n "$seg"; }
read_small() { "$READER" -k -n "${seg}_small"; }
compare nothing "repeat 20 read_big" "repeat 20 read_small"
row 2 "reader -k, 1 GiB segment / 4 KiB segment" "$(figure "$work/ours" 20)" \
	"$(figure "$work/base" 20)" "$(ratio "$(median "$work/ours")" "$(median "$work/base")")" 1.10
if [ -x /usr/bin/time ]; then
	big_kib=$(/usr/bin/time -f %M "$READER" -k -n "$seg" 2>&1 >/dev/null)
	small_kib=$(/usr/bin/time -f %M "$READER" -k -n "${seg}_small" 2>&1 >/dev/null)
	difference=$((big_kib - small_kib))
	[ "$difference" -lt 1024 ] && [ "$difference" -gt -1024 ] && held=met || held=MISSED
	line 2 "reader peak resident memory, 1 GiB / 4 KiB" "$big_kib KiB" "$small_kib KiB" \
		"differ < 1 MiB" "$held"
else
	echo "skip 2 - reader peak resident memory: /usr/bin/time is not installed"
fi
rm -f "$shm_file" "$shm_file"_small

# 3. The whole round trip with a short message in a 1 GiB segment against
#    a 4 KiB one: the writer reserves what it writes, not what -s says.
trip_big() { "$WRITER" -n "$seg" -s 1G hello && "$READER" -n "$seg"; }
trip_small() { "$WRITER" -n "$seg" -s 4K hello && "$READER" -n "$seg"; }
compare nothing "repeat 20 trip_big" "repeat 20 trip_small"
row 3 "writer -s 1G hello, reader / the same with -s 4K" "$(figure "$work/ours" 20)" \
	"$(figure "$work/base" 20)" "$(ratio "$(median "$work/ours")" "$(median "$work/base")")" 1.10
"$WRITER" -n "$seg" -s 1G hello || exit 1
held=$(($(stat -c '%b * %B' "$shm_file")))
line 3 "/dev/shm held by a waiting -s 1G hello" "$held bytes" "" "< 65536" \
	"$([ "$held" -lt 65536 ] && echo met || echo MISSED)"
rm -f "$shm_file"

# 4. 256 MiB through shared memory against cat through a tmpfs file.  The
#    reader removes the segment, which frees its memory; cat's copy is
#    removed too, so that both sides do the same work.
head -c 268435456 /dev/urandom >"${data}_payload" || exit 1
through_shm() { "$WRITER" -n "$seg" -s 300M - <"${data}_payload" && "$READER" -n "$seg" >"${data}_out"; }
through_file() {
	cat "${data}_payload" >"${data}_copy" && cat "${data}_copy" >"${data}_out" && rm "${data}_copy"
}
compare remove through_shm through_file
remove
cmp -s "${data}_payload" "${data}_out" || echo "warning: the last copy differs from the payload"
shm_ms=$(median "$work/ours")
row 4 "256 MiB: writer -, reader > out / cat, cat, rm" "$(figure "$work/ours")" "$(figure "$work/base")" \
	"$(ratio "$shm_ms" "$(median "$work/base")")" 1.30
gib_per_s=$((25 * 1000000000 / shm_ms)) # 1/4 GiB moved, in hundredths of GiB/s
printf '   throughput through shared memory: %d.%02d GiB/s\n' $((gib_per_s / 100)) $((gib_per_s % 100))
# Writing through a fresh mapping costs a page fault per 4 KiB page, which
# cat's write() does not pay: count them.
if [ -x /usr/bin/time ]; then
	writer_faults=$(/usr/bin/time -f %R "$WRITER" -n "$seg" -s 300M - <"${data}_payload" 2>&1)
	reader_faults=$(/usr/bin/time -f %R "$READER" -n "$seg" 2>&1 >"${data}_out")
	echo "   minor page faults: writer $writer_faults, reader $reader_faults" \
		"(256 MiB is $((268435456 / $(getconf PAGESIZE))) pages)"
fi

# 5. The same 256 MiB through a pipe: both sides at once, nothing allocated
#    twice.  No target: an honest figure for the handoff a pipe does best.
# shellcheck disable=SC2002 # a cat on each side of the pipe is what is measured
through_pipe() { cat "${data}_payload" | cat >"${data}_out"; }
compare remove through_shm through_pipe
remove
line 5 "256 MiB: writer -, reader > out / cat | cat" "$(figure "$work/ours")" "$(figure "$work/base")" \
	"$(ratio "$(median "$work/ours")" "$(median "$work/base")")" "(no target)"


# 6. System calls from main on.  The dynamic loader makes its own before
#    main, and main's first call is not the same in every program: count all
#    of them, less those of a program whose main only returns, built by the
#    same compiler (its exit_group is the one ours make too).
if command -v strace >/dev/null 2>&1; then
	printf 'int main(void) { return 0; }\n' >"$work/empty.c"
	${CC:-cc} -o "$work/empty" "$work/empty.c" || exit 1
	strace -o "$work/empty.trace" "$work/empty"
	strace -o "$work/writer.trace" "$WRITER" -n "$seg"
	strace -o "$work/reader.trace" "$READER" -n "$seg" >/dev/null
	before_main=$(($(wc -l <"$work/empty.trace") - 2)) # less its exit_group and "+++ exited"
	for program in writer:18 reader:16; do
		target=${program#*:}
		program=${program%:*}
		calls=$(($(wc -l <"$work/$program.trace") - 1 - before_main))
		line 6 "system calls from main on: $program.out" "$calls" "" "<= $target" \
			"$([ "$calls" -le "$target" ] && echo met || echo MISSED)"
	done
else
	echo "skip 6 - system calls: strace is not installed"
fi

# 7. Lesson two's live pair, both at once: the same 256 MiB from a file in
#    memory to /dev/null, against a pipe and against one copy alone.  The pair
#    is built from README.md on a name of this run's own.
live_built=false
if command -v "${CC:-cc}" >/dev/null 2>&1; then
	sh tests/readme_code.sh 5 | sed "s|\"/shm_live\"|\"${seg}_live\"|" >"$work/live.h" || exit 1
	# shellcheck disable=SC2086 # RT_LIB and THREAD_LIB are empty or one word
	for role in writer:3 reader:4; do
		sh tests/readme_code.sh "${role#*:}" >"$work/live_${role%:*}.c" &&
			${CC:-cc} -std=c11 -O2 -o "$work/live_${role%:*}" "$work/live_${role%:*}.c" ${RT_LIB:-} ${THREAD_LIB:-} ||
			exit 1
	done
	live_built=true
fi
if $live_built; then
	live_pair() { "$work/live_writer" <"${data}_payload" & "$work/live_reader" && wait $!; }
	# shellcheck disable=SC2002 # a cat on each side of the pipe is what is measured
	pipe_pair() { cat "${data}_payload" | cat; }
	one_copy() { cat "${data}_payload"; }
	compare nothing live_pair pipe_pair
	row 7 "256 MiB to /dev/null: live pair / cat | cat" "$(figure "$work/ours")" \
		"$(figure "$work/base")" "$(ratio "$(median "$work/ours")" "$(median "$work/base")")" 0.50
	compare nothing live_pair one_copy
	row 7 "256 MiB to /dev/null: live pair / cat alone" "$(figure "$work/ours")" \
		"$(figure "$work/base")" "$(ratio "$(median "$work/ours")" "$(median "$work/base")")" 1.50
else
	echo "skip 7 - the live pair: no C compiler (${CC:-cc})"
fi
rm -f "${data}_payload" "${data}_out"
