#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
# Install it when it is missing and we can; otherwise say what to install.
set -euo pipefail
for c in "${KD_STUDIO_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [[ -n "$c" && -x "$c" ]]; then exit 0; fi
done
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=""; fi
  fi
  if [[ $(id -u) -eq 0 || -n "$SUDO" ]]; then
    echo "installing Chromium for the browser tests (apt-get install chromium)..."
    $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
    exit 0
  fi
fi
echo "Chromium is missing: install the Debian package 'chromium' (or set KD_STUDIO_CHROMIUM to a Chromium binary)." >&2
echo "Browser tests will be skipped (with CI=true they fail)." >&2
exit 0
