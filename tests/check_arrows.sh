#!/usr/bin/env bash
# The folders' dependency arrows (docs/ARCHITECTURE.md), checked twice:
#   kernels <- engine <- nets <- io <- image <- train, pick <- app <- cli
# 1. No source file includes a header of a folder it may not use, bench/, tests/ and fuzz/ among
#    them (those three may include anything).
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

# Any spelling of an include of ours: "folder/x.h" or <folder/x.h>, spaces after '#', a path that
# climbs out of its folder with "..".
for folder in $folders; do
  [[ -d $src/$folder ]] || { echo "$src/$folder: missing (the folder list here is out of date)"; exit 1; }
  hits=$(cd "$src" && grep -rHnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$folder" \
           --include='*.h' --include='*.hpp' --include='*.cpp' --include='*.cc' --include='*.cu' \
           --include='*.cuh' --include='*.inl') || [[ $? == 1 ]] || { echo "grep failed in $folder/"; exit 1; }
  while IFS= read -r line; do
    [[ -z $line ]] && continue
    file=${line%%:*}
    path=$(sed -E 's/^[^:]*:[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]*)[">].*/\1/' <<<"$line")
    if [[ $path == *..* ]]; then
      echo "$file: includes $path: name headers from the repository root, not with .."
      status=1
      continue
    fi
    used=${path%%/*}
    [[ $path == */* ]] || continue  # a system or library header
    [[ " ${allowed[$folder]} " == *" $used "* ]] && continue
    [[ " $folders bench tests fuzz " == *" $used "* ]] || continue  # not one of ours
    echo "$file: includes $path, which $folder/ may not use (allowed: ${allowed[$folder]})"
    status=1
  done <<<"$hits"
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
