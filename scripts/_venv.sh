# Sourced by the scripts: create .venv with Python >= 3.11 and install the project into it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.11 or newer is required" >&2; return 1
}
# libopus encodes the audio of voice jams; it is a system library, not a Python package.
ensure_libopus() {
  "$1" -c 'import ctypes.util, sys; sys.exit(ctypes.util.find_library("opus") is None)' && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if (apt-get install -y -qq libopus0 || (apt-get update -qq && apt-get install -y -qq libopus0)) \
        >/dev/null 2>&1; then
      return 0
    fi
  fi
  echo "libopus is not installed, so voice jams are off (Debian/Ubuntu: sudo apt-get install libopus0)" >&2
}
python=$(pick_python)
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
ensure_libopus "$python"
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${1:-runtime}
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"; }
if [ ! -f "$stamp" ]; then
  case "${1:-runtime}" in
    dev) pip_install -e '.[dev]' ;;
    # The dependencies listed in pyproject.toml, without the bot's code (a cached layer).
    deps)
      .venv/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > .venv/requirements.txt
      pip_install -r .venv/requirements.txt ;;
    project) pip_install --no-deps -e . ;;
    *) pip_install -e . ;;
  esac
  touch "$stamp"
fi
