#!/bin/sh
# tests/readme_code.sh N: print the Nth C block (```c) of README.md: 1 is
# lesson one's writer, 2 its reader.  make basic and tests/run.sh build them.
awk -v n="$1" '
	/^```/ { if (inside) exit; if ($0 == "```c" && ++seen == n) inside = 1; next }
	inside' README.md
