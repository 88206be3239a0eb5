#!/usr/bin/env bash
# Installs the system packages CrowdKit needs, only those missing (Debian/Ubuntu).
#   scripts/bootstrap.sh            build and run: libmosquitto-dev, libcurl4-openssl-dev, libsqlite3-dev
#   scripts/bootstrap.sh --test     also what the tests use: mosquitto, mosquitto-clients, openssl, chromium,
#                                   curl, sqlite3 (hand-edits a store), util-linux (prlimit: a full disk),
#                                   systemd (systemd-analyze verify of deploy/crowd-notifier.service),
#                                   postgresql (initdb/pg_ctl for the PostgreSQL store's tests),
#                                   prometheus-alertmanager (the Alertmanager notifier's tests)
set -euo pipefail
packages=(libmosquitto-dev libcurl4-openssl-dev libsqlite3-dev pkg-config)
if [ "${1:-}" = "--test" ]; then
  packages+=(mosquitto mosquitto-clients openssl chromium curl sqlite3 util-linux systemd postgresql prometheus-alertmanager)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "bootstrap: add /opt/swift/usr/bin to PATH" >&2
  else
    echo "bootstrap: Swift 6 is required (https://swift.org/install/linux/); swift was not found" >&2
  fi
  exit 1
fi
