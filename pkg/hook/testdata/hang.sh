#!/bin/sh
# Starts a child that would outlive the hook, records its pid, then hangs.
sleep 300 &
echo $! > "$1"
echo started
wait
