#!/usr/bin/env bash
# Build the two Lambda artifacts deploy/template.yaml expects:
#   build/lambda/lambda-code.zip   weblogs/core, weblogs/adapters and lambdas/ (both handlers)
#   build/lambda/lambda-layer.zip  requirements-lambda.txt (pyarrow, orjson, msgspec, powertools)
# pyarrow's compiled wheels must match Lambda's OS and CPU, so pip fetches the
# manylinux wheels for the chosen architecture instead of what this machine runs.
#
# usage: deploy/package_lambdas.sh [arm64|x86_64]   (default arm64; must match the
#        stack's LambdaArchitecture parameter)
set -euo pipefail
cd "$(dirname "$0")/.."

ARCH="${1:-arm64}"
case "$ARCH" in
  arm64) PLATFORM=manylinux2014_aarch64 ;;
  x86_64) PLATFORM=manylinux2014_x86_64 ;;
  *) echo "package_lambdas: architecture must be arm64 or x86_64, got '$ARCH'" >&2; exit 2 ;;
esac
PYTHON_VERSION="${PYTHON_VERSION:-3.12}"  # the template's Runtime: python3.12
PIP="${PIP:-.venv/bin/pip}"
OUT=build/lambda

rm -rf "$OUT"
mkdir -p "$OUT/layer/python" "$OUT/code"

"$PIP" install --quiet --disable-pip-version-check --no-compile \
  --platform "$PLATFORM" --implementation cp --python-version "$PYTHON_VERSION" \
  --only-binary=:all: --target "$OUT/layer/python" -r requirements-lambda.txt

# What the functions never load: headers, Cython sources, tests, caches.
rm -rf "$OUT/layer/python/pyarrow/include" "$OUT/layer/python/pyarrow/src" \
  "$OUT/layer/python/pyarrow/tests"
find "$OUT/layer/python" \( -name '__pycache__' -o -name '*.pyx' -o -name '*.pxd' \) -prune \
  -exec rm -rf {} +

# Code: only the layers the handlers import (no simulator, CLI or dbt runner), no caches.
CODE_PATHS=(weblogs/__init__.py weblogs/core weblogs/adapters lambdas)
for path in "${CODE_PATHS[@]}"; do
  mkdir -p "$OUT/code/$(dirname "$path")"
  cp -R "$path" "$OUT/code/$path"
done
find "$OUT/code" -name '__pycache__' -prune -exec rm -rf {} +

(cd "$OUT/layer" && zip -qr9X ../lambda-layer.zip python)
(cd "$OUT/code" && zip -qr9X ../lambda-code.zip weblogs lambdas)

layer_unzipped=$(du -sm "$OUT/layer" | cut -f1)
code_unzipped=$(du -sm "$OUT/code" | cut -f1)
echo "lambda-layer.zip: $(du -h "$OUT/lambda-layer.zip" | cut -f1) zipped, ${layer_unzipped} MB unzipped"
echo "lambda-code.zip:  $(du -h "$OUT/lambda-code.zip" | cut -f1) zipped, ${code_unzipped} MB unzipped"
if [ $((layer_unzipped + code_unzipped)) -ge 250 ]; then
  echo "package_lambdas: function + layer exceed Lambda's 250 MB unzipped limit" >&2
  exit 1
fi
