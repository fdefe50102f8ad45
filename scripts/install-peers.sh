#!/bin/sh
# Make sure the third-party SIP peers the interop tests start are installed.
#
# Usage: install-peers.sh PACKAGE... -- COMMAND...
# If every COMMAND is on PATH, do nothing. Otherwise, as root, install the
# Debian PACKAGEs with apt-get; as another user, stop with a message naming
# what is missing and how to opt out (VOIPKIT_NO_PEERS=1).
set -eu
packages=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do packages="$packages $1"; shift; done
[ $# -gt 0 ] && shift
missing=""
for cmd in "$@"; do
  command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
# kamailio's modules are separate packages: check one file of each.
for mod in db_sqlite tls presence; do
  [ -e "/usr/lib/x86_64-linux-gnu/kamailio/modules/$mod.so" ] || \
  ls /usr/lib/*/kamailio/modules/$mod.so >/dev/null 2>&1 || missing="$missing kamailio:$mod"
done
# PortAudio (for sound cards through sounddevice) has no command: check its library.
ls /usr/lib/*/libportaudio.so.2 >/dev/null 2>&1 || missing="$missing libportaudio2"
ls /usr/lib/*/libspeexdsp.so.1 >/dev/null 2>&1 || missing="$missing libspeexdsp1"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "make test: the interop tests need these Debian packages:$packages" >&2
  echo "missing:$missing" >&2
  echo "Install them as root (apt-get install$packages), or run 'VOIPKIT_NO_PEERS=1 make test'" >&2
  echo "to run everything except the interop tests." >&2
  exit 1
fi
echo "installing interop peers:$packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $packages >/dev/null
for cmd in "$@"; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "install-peers: $cmd still missing after apt-get" >&2; exit 1; }
done
