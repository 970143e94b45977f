#!/bin/sh
# Differential-test scene for the tmux stand-in: print the bytes of file $1 to the terminal,
# then create $2 to say they were written, then stay alive so the pane can be captured.
cat "$1"
: > "$2"
exec sleep 1000
