#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter, or explain why there is none and exit 1.
# Order: $CIT_BAYES_PYTHON; python3.12 / python3.13 on PATH that actually run (a pyenv shim for a
# version that is installed but not selected does not); pyenv's own versions folder; python3.
set -uo pipefail
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
candidates=()
[ -n "${CIT_BAYES_PYTHON:-}" ] && candidates+=("$CIT_BAYES_PYTHON")
for name in python3.12 python3.13; do
  path=$(command -v "$name" 2>/dev/null) && candidates+=("$path")
done
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for dir in "$root"/versions/3.12* "$root"/versions/3.13*; do
  [ -x "$dir/bin/python3" ] && candidates+=("$dir/bin/python3")
done
for path in /usr/local/bin/python3.12 /usr/bin/python3.12; do
  [ -x "$path" ] && candidates+=("$path")
done
path=$(command -v python3 2>/dev/null) && candidates+=("$path")
for candidate in "${candidates[@]}"; do
  if ok "$candidate"; then
    # resolve a pyenv shim to the real interpreter, so that .venv does not depend on the shim
    "$candidate" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "error: cit_bayes needs Python >= 3.12 and none was found (tried: ${candidates[*]:-nothing})." >&2
echo "Install it (pyenv install 3.12, or your system's python3.12), or set CIT_BAYES_PYTHON." >&2
exit 1
