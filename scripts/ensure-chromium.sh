#!/usr/bin/env bash
# The report's browser test opens report.html in headless Chromium (Debian's chromium and
# chromium-driver packages). Install them when missing; say plainly what to do when we cannot.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "${CIT_BAYES_BROWSER_TEST:-on}" = "off" ]; then
  echo "chromium not installed; the browser test is switched off (CIT_BAYES_BROWSER_TEST=off)"
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "error: installing chromium needs root (apt-get); install 'chromium' and" \
           "'chromium-driver', or set CIT_BAYES_BROWSER_TEST=off to skip the browser test" >&2
      exit 1
    fi
  fi
  # Another process (unattended upgrades, a second `make test`) may hold apt's locks: wait for
  # them up to CIT_BAYES_APT_WAIT seconds (default 600), saying so, instead of failing at once.
  wait_s=${CIT_BAYES_APT_WAIT:-600}
  lock_opts=(-o "DPkg::Lock::Timeout=$wait_s")
  echo "installing Debian's chromium and chromium-driver for the report's browser test" \
       "(system-wide, with apt-get; waits up to ${wait_s} s for apt's lock if another process holds it)"
  deadline=$((SECONDS + wait_s))
  until $SUDO apt-get "${lock_opts[@]}" update -qq 2>/tmp/cit-bayes-apt-update.$$; do
    if grep -qi "lock" /tmp/cit-bayes-apt-update.$$ && [ $SECONDS -lt $deadline ]; then
      echo "apt's package lists are locked by another process; waiting (up to ${wait_s} s in all)"
      sleep 5
    else
      cat /tmp/cit-bayes-apt-update.$$ >&2; rm -f /tmp/cit-bayes-apt-update.$$
      echo "error: apt-get update failed; install 'chromium' and 'chromium-driver', or set" \
           "CIT_BAYES_BROWSER_TEST=off to skip the browser test" >&2
      exit 1
    fi
  done
  rm -f /tmp/cit-bayes-apt-update.$$
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${lock_opts[@]}" install -y -qq \
    --no-install-recommends chromium chromium-driver >/dev/null
  exit 0
fi
echo "error: the browser test needs chromium and chromedriver on PATH (no apt-get here);" \
     "install them, or set CIT_BAYES_BROWSER_TEST=off to skip the browser test" >&2
exit 1
