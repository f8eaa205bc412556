# Shared by scripts/start and scripts/test: find Python 3.11, make the venv, install.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HEARING_VENV:-$ROOT/.venv}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    # Install only what is missing, so a warm machine does not touch apt at all.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing Debian packages: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

find_python() {
    for cand in python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 \
            && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            command -v "$cand"
            return 0
        fi
    done
    echo "Python 3.11 is required (python3.11 or python3)" >&2
    return 1
}

make_venv() {
    local extras="$1"
    local py
    py="$(find_python)"
    if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating virtual environment in $VENV"
        "$py" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$extras"
    # Reinstall only when pyproject.toml changed since the last install.
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
        echo "==> installing Python packages ($extras)"
        "$VENV/bin/python" -m pip install -q --upgrade pip
        if [ "$extras" = "runtime" ]; then
            "$VENV/bin/python" -m pip install -q -e "$ROOT"
        else
            "$VENV/bin/python" -m pip install -q -e "$ROOT[$extras]"
        fi
        # Packages whose declared dependencies are wrong for us (face_recognition asks for
        # dlib, built from source; pyproject.toml declares dlib-bin): pyproject.toml's
        # [tool.hearing-server] install-no-deps, installed without their dependencies.
        local no_deps
        no_deps="$("$VENV/bin/python" -c 'import sys, tomllib
print(" ".join(tomllib.load(open(sys.argv[1], "rb"))["tool"]["hearing-server"]["install-no-deps"]))' \
            "$ROOT/pyproject.toml")"
        if [ -n "$no_deps" ]; then
            # shellcheck disable=SC2086 # one word per package
            "$VENV/bin/python" -m pip install -q --no-deps $no_deps
        fi
        touch "$stamp"
    fi
}

npm_install() {
    if [ -f "$ROOT/web_client/package.json" ]; then
        if ! command -v npm >/dev/null 2>&1; then
            apt_install nodejs npm
        fi
        if [ ! -d "$ROOT/web_client/node_modules" ] \
            || [ "$ROOT/web_client/package-lock.json" -nt "$ROOT/web_client/node_modules" ]; then
            echo "==> installing browser dependencies (npm)"
            (cd "$ROOT/web_client" && npm ci --no-audit --no-fund --loglevel=error)
            touch "$ROOT/web_client/node_modules"
        fi
    fi
}
