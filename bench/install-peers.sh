#!/bin/sh
# Install the Debian packages the benchmarks compare Heron with, or the ones named as
# arguments (make test uses it for curl, prometheus and netdata, which tests drive as real clients).
#
# Idempotent: installs only what is missing and runs `apt-get update` at most once.
# Works as root in a container without systemd. The benchmark runner starts its own
# instances on 127.0.0.1 with temporary directories, so any daemon a package's postinst
# starts is stopped again: policy-rc.d (the Debian mechanism, invoke-rc.d(8)) forbids the
# start while we install, and any process of those binaries that appeared anyway is
# terminated by its pid.
set -eu

PACKAGES="${*:-influxdb victoria-metrics wrk prometheus prometheus-node-exporter prometheus-blackbox-exporter prometheus-alertmanager}"
DAEMONS="/usr/bin/influxd /usr/bin/victoria-metrics /usr/bin/prometheus /usr/bin/prometheus-node-exporter /usr/bin/prometheus-blackbox-exporter /usr/bin/prometheus-alertmanager /usr/sbin/netdata /usr/sbin/named"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ]; then
    echo "install-peers: all peers installed ($PACKAGES)" >&2
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "Error: install-peers needs root to install:$missing" >&2
    exit 1
fi

pids_of_daemons() {
    for bin in $DAEMONS; do
        pidof "$bin" 2>/dev/null || true
    done | tr ' ' '\n' | sort -u
}

before=$(pids_of_daemons)

made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=yes
fi
cleanup() {
    if [ -n "$made_policy" ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
}
trap cleanup EXIT

echo "install-peers: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086  # $missing is a word list on purpose
apt-get install -y --no-install-recommends $missing

for pid in $(pids_of_daemons); do
    if ! echo "$before" | grep -qx "$pid"; then
        echo "install-peers: stopping daemon $pid started by a postinst" >&2
        kill "$pid" 2>/dev/null || true
    fi
done
