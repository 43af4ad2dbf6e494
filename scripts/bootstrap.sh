# Shared by scripts/dev.sh and scripts/test.sh: create .venv/ and install the project into it.
# Usage: source scripts/bootstrap.sh [EXTRAS]   (EXTRAS like "dev,local" or "local")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
EXTRAS="${1:-}"
LLAMA_VERSION="0.3.36"
WHEEL_DIR="${CONVOFLOW_WHEEL_DIR:-$HOME/.cache/convoflow/wheels}"

quiet_pip() {
  .venv/bin/python -m pip --disable-pip-version-check "$@" 2>&1 | grep -v "^WARNING: Location" || true
}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv/ with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
quiet_pip install --quiet --upgrade pip

if [[ ",$EXTRAS," == *",local,"* ]] && ! ls "$WHEEL_DIR"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  # llama-cpp-python ships only as source. Build it once for a portable CPU baseline: a
  # native build may use AMX/AVX-512, which crashes where the VM does not enable them.
  echo "==> building llama-cpp-python $LLAMA_VERSION for the local model (once, ~6 minutes)"
  case "$(uname -m)" in
    x86_64|amd64)
      CPU_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
    *)
      CPU_FLAGS="-DGGML_NATIVE=OFF" ;;
  esac
  mkdir -p "$WHEEL_DIR"
  CMAKE_ARGS="$CPU_FLAGS -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    quiet_pip wheel --quiet --no-deps --no-cache-dir -w "$WHEEL_DIR" "llama-cpp-python==$LLAMA_VERSION"
  ls "$WHEEL_DIR"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null || { echo "llama-cpp-python build failed" >&2; exit 1; }
fi

TARGET="."
if [ -n "$EXTRAS" ]; then TARGET=".[$EXTRAS]"; fi
echo "==> installing convoflow ($TARGET) into .venv/ (the first run takes a few minutes)"
quiet_pip install --quiet --find-links "$WHEEL_DIR" -e "$TARGET"
.venv/bin/python -c "import client, workflows.session" || { echo "install failed" >&2; exit 1; }
