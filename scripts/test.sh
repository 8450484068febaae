#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the
# tests need when it is missing (Debian's chromium for the HTML report's
# browser test, through apt-get, as root), checks the formatting and the
# lints (`cargo fmt --check`, `cargo clippy --workspace --all-targets -D warnings`),
# then `cargo test --workspace --release`.
# Extra arguments go to cargo test (e.g. `scripts/test.sh -- --nocapture`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -x /usr/bin/chromium ]]; then
    if [[ "${PMEMVM_SKIP_BROWSER:-}" == 1 ]]; then
        echo "scripts/test.sh: /usr/bin/chromium missing; PMEMVM_SKIP_BROWSER=1, browser tests skip" >&2
    else
        if [[ "$(id -u)" -ne 0 ]]; then
            echo "scripts/test.sh: /usr/bin/chromium is missing and installing it needs root" \
                "(apt-get install chromium), or set PMEMVM_SKIP_BROWSER=1" >&2
            exit 1
        fi
        echo "scripts/test.sh: installing chromium (apt-get)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q chromium
    fi
fi

cargo fmt --all --check
cargo clippy --release --workspace --all-targets -- -D warnings
exec cargo test --workspace --release "$@"
