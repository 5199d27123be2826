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
  echo "installing Debian's chromium and chromium-driver for the report's browser test"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver >/dev/null
  exit 0
fi
echo "error: the browser test needs chromium and chromedriver on PATH (no apt-get here);" \
     "install them, or set CIT_BAYES_BROWSER_TEST=off to skip the browser test" >&2
exit 1
