#!/bin/sh
# Stand-in for Qubes' qubesdb-read, written from its documented behaviour: prints the value
# of each KEY followed by a newline (with -f, as "KEY = VALUE"); for a missing key it says
# "Failed to read KEY" on stderr and goes on; exits 1 when any key was missing, else 0. Its
# database is a directory: key /qubes-ip is the file DATA/qubes-ip, holding the value and
# its newline. Unlike the real one it prints values raw (no \xNN for control bytes), so a
# value holding a line break shows as several lines.
data=${QUBESDB_SIM_DATA:-@DATA@}
full=
if [ "$1" = -f ]; then full=1; shift; fi
if [ $# -eq 0 ]; then
  echo "Usage: qubesdb-read [-f] path..." >&2
  exit 2
fi
status=0
for key in "$@"; do
  case $key in
    /*..* | *//* | */) ;;
    /*) if [ -f "$data$key" ]; then
          if [ -z "$full" ] && [ $# -eq 1 ]; then exec cat "$data$key"; fi
          if [ -z "$full" ]; then cat "$data$key"; continue; fi
          # One process for all keys, as the real one: the shell's own read, no cat.
          printf '%s = ' "$key"
          while IFS= read -r line || [ -n "$line" ]; do printf '%s\n' "$line"; done <"$data$key"
          continue
        fi ;;
  esac
  echo "Failed to read $key" >&2
  status=1
done
exit $status
