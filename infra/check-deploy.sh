#!/usr/bin/env bash
# The deployment checks that need no AWS account: the template lints, SAM accepts it, and `sam build`
# produces an arm64 `bootstrap` for each function, small enough to upload and start quickly.
#
#   1. installs pinned cfn-lint, aws-sam-cli, cargo-lambda and ziglang from PyPI into a virtualenv
#      (cargo-lambda cross-compiles to aarch64 with zig as the linker, so no Docker is needed), and the
#      aarch64-unknown-linux-gnu Rust standard library with rustup;
#   2. cfn-lint template.yaml;
#   3. sam validate --lint;
#   4. sam build (BuildMethod rust-cargolambda, a SAM beta feature) into .aws-sam/build;
#   5. prints each bootstrap's size and fails if one is >= 10 MB or is not a 64-bit little-endian
#      aarch64 ELF executable.
#
# Usage: infra/check-deploy.sh [--skip-build]
#
# Environment:
#   DEPLOY_TOOLS_VENV   the virtualenv (default ${TMPDIR:-/tmp}/ig-private-replies-deploy-tools); reused
#                       when it already holds the pinned versions
#   MAX_BOOTSTRAP_BYTES size limit per bootstrap (default 10000000)
set -euo pipefail

# Pinned so that a new release of a linter cannot turn CI red on its own; bump deliberately.
readonly CFN_LINT_VERSION="1.58.0"
readonly SAM_CLI_VERSION="1.170.0"
readonly CARGO_LAMBDA_VERSION="1.9.2"
readonly ZIGLANG_VERSION="0.17.1"
readonly RUST_TARGET="aarch64-unknown-linux-gnu"
# The functions `sam build` must produce, by logical id (template.yaml).
readonly FUNCTIONS=(WebhookFunction ReplierFunction)
readonly EM_AARCH64=183 # ELF e_machine for AArch64 (0xB7)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DEPLOY_TOOLS_VENV:-${TMPDIR:-/tmp}/ig-private-replies-deploy-tools}"
max_bytes="${MAX_BOOTSTRAP_BYTES:-10000000}"
build_dir="${repo_root}/.aws-sam/build"

skip_build=false
case "${1:-}" in
"") ;;
--skip-build) skip_build=true ;;
*)
  printf 'usage: %s [--skip-build]\n' "$0" >&2
  exit 2
  ;;
esac

step() { printf '\n--- %s\n' "$*"; }
die() {
  printf 'check-deploy: %s\n' "$*" >&2
  exit 1
}

# SAM asks no questions, sends no telemetry, and needs a region only to name things; nothing here
# talks to AWS.
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION}}"

install_tools() {
  local stamp="${venv}/.pinned"
  local want="cfn-lint==${CFN_LINT_VERSION} aws-sam-cli==${SAM_CLI_VERSION} cargo-lambda==${CARGO_LAMBDA_VERSION} ziglang==${ZIGLANG_VERSION}"
  if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" && -x "${venv}/bin/sam" ]]; then
    echo "reusing ${venv}"
  else
    command -v python3 >/dev/null 2>&1 || die "python3 not found; it is needed to install the tools from PyPI"
    rm -rf "${venv}"
    python3 -m venv "${venv}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    # shellcheck disable=SC2086 # $want is a list of requirement specifiers
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check ${want}
    printf '%s' "${want}" >"${stamp}"
  fi
  # The venv's bin first: cargo-lambda finds zig through `python3 -m ziglang`.
  export PATH="${venv}/bin:${PATH}"
  cfn-lint --version
  sam --version
  cargo lambda --version
  echo "zig $(python3 -m ziglang version)"
  if command -v rustup >/dev/null 2>&1; then
    rustup target list --installed | grep -qx "${RUST_TARGET}" || rustup target add "${RUST_TARGET}"
  fi
}

# Prints "<size> <path>" and fails unless the file is a small aarch64 ELF executable. Reads the ELF
# header bytes directly (`file` is not on every machine): magic, 64-bit class, little-endian, e_machine.
check_bootstrap() {
  local function="$1" path="${build_dir}/$1/bootstrap"
  [[ -f "${path}" ]] || die "${function}: sam build produced no ${path#"${repo_root}/"}"
  local size header magic class data machine
  size="$(wc -c <"${path}" | tr -d ' ')"
  header="$(od -An -v -t u1 -N 20 "${path}" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
  read -r -a bytes <<<"${header}"
  ((${#bytes[@]} == 20)) || die "${function}: bootstrap is shorter than an ELF header"
  magic="${bytes[0]} ${bytes[1]} ${bytes[2]} ${bytes[3]}"
  class="${bytes[4]}"
  data="${bytes[5]}"
  machine=$((bytes[18] + 256 * bytes[19]))
  printf '%-16s %10s bytes (%s MiB)  %s\n' "${function}" "${size}" \
    "$(awk -v s="${size}" 'BEGIN { printf "%.2f", s / 1048576 }')" "${path#"${repo_root}/"}"
  [[ "${magic}" == "127 69 76 70" ]] || die "${function}: bootstrap is not an ELF file"
  [[ "${class}" == 2 && "${data}" == 1 ]] || die "${function}: bootstrap is not a 64-bit little-endian ELF"
  ((machine == EM_AARCH64)) || die "${function}: bootstrap is built for ELF machine ${machine}, not aarch64 (${EM_AARCH64})"
  ((size < max_bytes)) || die "${function}: bootstrap is ${size} bytes, the limit is ${max_bytes}"
}

main() {
  cd "${repo_root}"

  step "deployment tools (PyPI, pinned)"
  install_tools

  step "cfn-lint template.yaml"
  cfn-lint template.yaml
  echo "clean"

  step "sam validate --lint"
  sam validate --lint --template template.yaml

  if [[ "${skip_build}" == true ]]; then
    echo "sam build skipped (--skip-build)"
    return 0
  fi

  step "sam build (arm64, cargo-lambda + zig)"
  # Cargo's own target/ is the build cache (SAM's --cached would hash the whole repository, target/
  # included, because CodeUri is the workspace root). The artifacts go to .aws-sam/ (gitignored).
  local started=${SECONDS}
  sam build --beta-features --template template.yaml --build-dir "${build_dir}"
  echo "sam build took $((SECONDS - started)) s"

  step "bootstrap artifacts (limit ${max_bytes} bytes each)"
  local function
  for function in "${FUNCTIONS[@]}"; do
    check_bootstrap "${function}"
  done
}

main "$@"
