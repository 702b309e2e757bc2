#!/usr/bin/env bash
# What the tests need besides Python packages: a real Prometheus server with promtool,
# Alertmanager's amtool (tests/test_deploy.py, tests/live/http/test_prometheus.py) and Chromium
# (the dashboard and report pages). `make test` runs this first. As root on Debian it
# installs what is missing; otherwise it says in one line what to install, and stops.
set -euo pipefail

need=()
for pair in prometheus:prometheus promtool:prometheus amtool:prometheus-alertmanager \
  chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
((${#need[@]})) || exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "make test: installing ${need[*]} (Debian packages the tests need)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  exit 0
fi
echo "make test: the tests need ${need[*]}; install them (Debian: sudo apt-get install ${need[*]}) and run make test again" >&2
exit 1
