#!/usr/bin/env bash
# Install Debian packages a test needs when they are missing (system-wide, with apt-get), and say
# plainly what to do when we cannot. Used by `make test` for the report's browser test (Chromium)
# and the PDF supplement's test (TeX Live, Latin Modern fonts, poppler's pdftotext).
#
# usage: ensure-debian-packages.sh WHAT SWITCH CHECK... -- PACKAGE...
#   WHAT     what needs them, for the messages ("the report's browser test")
#   SWITCH   environment variable that, set to "off", skips the install (the test then skips)
#   CHECK    a shell test that holds when a need is met ("command -v chromium")
#   PACKAGE  Debian packages to install when any CHECK fails
set -euo pipefail
what=$1 switch=$2
shift 2
checks=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do checks+=("$1"); shift; done
[ $# -gt 0 ] && shift
packages=("$@")
met=1
for check in "${checks[@]}"; do
  if ! sh -c "$check" >/dev/null 2>&1; then met=0; fi
done
if [ $met = 1 ]; then
  exit 0
fi
if [ "${!switch:-on}" = "off" ]; then
  echo "${packages[*]}: not all installed; $what is switched off ($switch=off)"
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "error: installing ${packages[*]} needs root (apt-get); install them, or set" \
           "$switch=off to skip $what" >&2
      exit 1
    fi
  fi
  # Another process (unattended upgrades, a second `make test`) may hold apt's locks: wait for
  # them up to CIT_BAYES_APT_WAIT seconds (default 600), saying so, instead of failing at once.
  wait_s=${CIT_BAYES_APT_WAIT:-600}
  lock_opts=(-o "DPkg::Lock::Timeout=$wait_s")
  echo "installing Debian's ${packages[*]} for $what" \
       "(system-wide, with apt-get; waits up to ${wait_s} s for apt's lock if another process holds it)"
  log=$(mktemp)
  deadline=$((SECONDS + wait_s))
  until $SUDO apt-get "${lock_opts[@]}" update -qq 2>"$log"; do
    if grep -qi "lock" "$log" && [ $SECONDS -lt $deadline ]; then
      echo "apt's package lists are locked by another process; waiting (up to ${wait_s} s in all)"
      sleep 5
    else
      cat "$log" >&2; rm -f "$log"
      echo "error: apt-get update failed; install ${packages[*]}, or set $switch=off to skip" \
           "$what" >&2
      exit 1
    fi
  done
  rm -f "$log"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${lock_opts[@]}" install -y -qq \
    --no-install-recommends "${packages[@]}" >/dev/null
  exit 0
fi
echo "error: $what needs ${packages[*]} (no apt-get here); install them, or set $switch=off" \
     "to skip $what" >&2
exit 1
