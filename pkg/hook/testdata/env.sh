#!/bin/sh
# Prints the SQLDR_ environment and the extra variables the test checks, one per line.
env | grep -E '^(SQLDR_|EXTRA_|SECRET_DSN)' | sort
echo "args: $*"
