#!/usr/bin/env bash
# The folders' dependency arrows (docs/ARCHITECTURE.md), checked twice:
#   kernels <- engine <- nets <- io <- image <- train, pick <- app <- cli
# 1. No source file includes a header of a folder it may not use (bench/, tests/ and fuzz/ may
#    include anything).
# 2. No folder's library (BUILD_DIR/libcupick_<folder>.a) needs a symbol that only a library it may
#    not use defines. A static library resolves whatever the final link happens to bring, so a call
#    against the arrows could otherwise link. Weak definitions (inline functions, templates) are
#    emitted wherever they are used and prove nothing; only strong ones count.
# Usage: tests/check_arrows.sh SOURCE_DIR [BUILD_DIR]. Prints each violation; exits 1 if any.
set -euo pipefail
src=$1
build=${2:-}

# What each folder may use, itself included.
declare -A allowed=(
  [kernels]="kernels"
  [engine]="engine kernels"
  [nets]="nets engine kernels"
  [io]="io nets engine kernels"
  [image]="image io nets engine kernels"
  [train]="train image io nets engine kernels"
  [pick]="pick image io nets engine kernels"
  [app]="app train pick image io nets engine kernels"
  [cli]="cli app train pick image io nets engine kernels"
)
folders="kernels engine nets io image train pick app cli"
status=0

for folder in $folders; do
  while IFS= read -r line; do
    file=${line%%:*}
    used=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$line")
    [[ " ${allowed[$folder]} " == *" $used "* ]] && continue
    [[ " $folders " == *" $used "* ]] || continue  # not one of ours (bench/, tests/ headers are not allowed either)
    echo "$file: includes $used/, which $folder/ may not use (allowed: ${allowed[$folder]})"
    status=1
  done < <(cd "$src" && grep -rHE '^#include "[a-z_]+/' "$folder" --include='*.h' --include='*.cpp' \
                                                               --include='*.cu' --include='*.cuh' || true)
done

if [[ -n $build ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for folder in kernels engine nets io image train pick app; do
    lib=$build/libcupick_$folder.a
    [[ -f $lib ]] || { echo "$lib: missing (build first)"; exit 1; }
    nm -g --defined-only "$lib" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[TDBR]$/ {print $3}' | sort -u >"$tmp/$folder.defined"
    nm -g --undefined-only "$lib" 2>/dev/null | awk '{print $NF}' | sort -u >"$tmp/$folder.undefined"
  done
  for folder in kernels engine nets io image train pick app; do
    for other in kernels engine nets io image train pick app; do
      [[ " ${allowed[$folder]} " == *" $other "* ]] && continue
      # Needed here, defined strongly there and in no library this folder may use.
      comm -12 "$tmp/$folder.undefined" "$tmp/$other.defined" >"$tmp/hits"
      for mine in ${allowed[$folder]}; do comm -23 "$tmp/hits" "$tmp/$mine.defined" >"$tmp/left"; mv "$tmp/left" "$tmp/hits"; done
      while IFS= read -r symbol; do
        echo "libcupick_$folder.a: needs $(c++filt "$symbol"), defined in $other/, which $folder/ may not use"
        status=1
      done <"$tmp/hits"
    done
  done
fi
exit $status
