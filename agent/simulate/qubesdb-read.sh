#!/bin/sh
# Stand-in for Qubes' qubesdb-read, as docs/qubes-facts.md describes it (what a qube exposes): prints the
# value of each KEY followed by a newline and exits 0, or says so on stderr and exits 1
# for a missing key. Its database is a directory: key /qubes-ip is the file DATA/qubes-ip,
# holding the value and its newline (so one key costs one process, as the real one does).
data=${QUBESDB_SIM_DATA:-@DATA@}
if [ $# -eq 0 ]; then
  echo "Usage: qubesdb-read [-q] path..." >&2
  exit 2
fi
for key in "$@"; do
  case $key in
    /*..* | *//* | */) echo "Failed to read $key" >&2; exit 1 ;;
    /*) ;;
    *) echo "Failed to read $key" >&2; exit 1 ;;
  esac
  if [ ! -f "$data$key" ]; then
    echo "Failed to read $key" >&2
    exit 1
  fi
  if [ $# -eq 1 ]; then exec cat "$data$key"; fi
  cat "$data$key"
done
