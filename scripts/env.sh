#!/usr/bin/env bash
# Create (if missing) the project's virtual environment and print its python.
# Finds a Python >= 3.12 on PATH or under pyenv; set LS_PYTHON to force one.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${LS_VENV:-$root/.venv}
# the versions the tests last passed with; LS_CONSTRAINTS=none installs the newest releases instead
cons=${LS_CONSTRAINTS:-$root/constraints.txt}

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
  local c
  for c in ${LS_PYTHON:-} python3.13 python3.12 python3 python; do
    if command -v "$c" >/dev/null 2>&1 && ok "$(command -v "$c")"; then command -v "$c"; return; fi
  done
  for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] /opt/python*/bin/python3; do
    if [ -x "$c" ] && ok "$c"; then echo "$c"; return; fi
  done
  return 1
}

if [ ! -x "$venv/bin/python" ] || ! ok "$venv/bin/python" \
   || ! "$venv/bin/python" -c 'import learned_solvers, pytest' >/dev/null 2>&1 \
   || [ "$root/pyproject.toml" -nt "$venv/.installed" ] \
   || { [ -f "$cons" ] && [ "$cons" -nt "$venv/.installed" ]; }; then
  py=$(find_python) || {
    echo "learned-solvers needs Python >= 3.12 (dolfinx-solver-real and torch wheels require it)." >&2
    echo "None found on PATH or under pyenv. Install one (e.g. 'pyenv install 3.12') or set LS_PYTHON=/path/to/python3.12." >&2
    exit 1
  }
  echo "[env] using $py ($("$py" --version 2>&1)) -> $venv" >&2
  [ -x "$venv/bin/python" ] && ok "$venv/bin/python" || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  echo "[env] installing learned-solvers and its dependencies (torch is large: a few minutes the first time)" >&2
  cflag=()
  if [ "$cons" != none ]; then
    [ -f "$cons" ] || { echo "LS_CONSTRAINTS=$cons: no such file (LS_CONSTRAINTS=none: no constraints)" >&2; exit 1; }
    cflag=(-c "$cons")
  fi
  "$venv/bin/python" -m pip install -q -e "$root[test,pde]" "${cflag[@]}" >&2
  touch "$venv/.installed"
fi
echo "$venv/bin/python"
