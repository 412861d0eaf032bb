#!/bin/sh
# tests/readme_code.sh N: print the Nth C block (```c) of README.md: 1 is
# lesson one's writer, 2 its reader; 3 is lesson two's live.h, 4 and 5 its
# writer and reader.  make basic, make live and tests/run.sh build them.
awk -v n="$1" '
	/^```/ { if (inside) exit; if ($0 == "```c" && ++seen == n) inside = 1; next }
	inside' README.md
