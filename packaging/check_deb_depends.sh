#!/usr/bin/env bash
# Builds the .deb (cpack -G DEB in BUILD_DIR) and checks its Depends against what the installed
# programs really load: every shared library `ldd` resolves for every ELF file in the package
# must come from a package that is in Depends or that Depends pulls in (the installed packages'
# own Depends / Pre-Depends, followed recursively). Also checks that the libraries the programs
# link directly (NEEDED) are named in Depends itself, libpoppler-cpp among them.
# usage: packaging/check_deb_depends.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: check_deb_depends.sh BUILD_DIR}
cd "$build"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 || { echo "cpack failed:"; tail -20 "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/out/*.deb | head -1)
[ -f "$deb" ] || { echo "no .deb produced"; exit 1; }
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
dpkg-deb -x "$deb" "$work/root"

# Package names in Depends (versions dropped, every alternative kept).
names_of() { tr ',|' '\n\n' | sed -e 's/([^)]*)//g' -e 's/:any//g' -e 's/^ *//' -e 's/ *$//' | grep -v '^$' | sort -u; }
direct=$(echo "$depends" | names_of)

# The closure: Depends plus everything they depend on, among installed packages. A virtual
# name stands for the installed packages that provide it. dpkg's database is read once.
declare -A installed pdeps provided seen
while IFS=$'\t' read -r pkg st dep prov; do
  [[ $st == ii* ]] || continue
  installed[$pkg]=1
  pdeps[$pkg]=$dep
  for v in $(echo "$prov" | names_of); do provided[$v]="${provided[$v]:-} $pkg"; done
done < <(dpkg-query -W -f='${Package}\t${db:Status-Abbrev}\t${Depends}, ${Pre-Depends}\t${Provides}\n')
queue=($direct)
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  if [ -n "${installed[$p]:-}" ]; then
    for m in $(echo "${pdeps[$p]}" | names_of); do [ -z "${seen[$m]:-}" ] && queue+=("$m"); done
  fi
  for m in ${provided[$p]:-}; do [ -z "${seen[$m]:-}" ] && queue+=("$m"); done
done

# Which package ships which library file: read once from dpkg's file lists (a dpkg -S per
# library takes minutes over the few hundred libraries LibTorch and Qt bring).
declare -A owners
while IFS= read -r line; do
  list=${line%%:/*}
  file=${line#"$list":}
  pkg=${list##*/}
  pkg=${pkg%.list}
  owners[$file]=${pkg%%:*}
done < <(grep -H '\.so' /var/lib/dpkg/info/*.list)
owner() {  # the package that ships a library file (merged /usr: try both spellings)
  local f=$1 real
  real=$(readlink -f "$f")
  for cand in "$f" "$real" "${f#/usr}" "/usr$f" "${real#/usr}" "/usr$real"; do
    [ -n "${owners[$cand]:-}" ] && { echo "${owners[$cand]}"; return; }
  done
  echo ""
}

status=0
checked=0
while IFS= read -r -d '' f; do
  file -b "$f" | grep -q '^ELF' || continue
  checked=$((checked + 1))
  rel=${f#"$work/root"}
  deps=$(ldd "$f" 2>/dev/null || true)
  if echo "$deps" | grep -q "not found"; then
    echo "FAIL $rel: libraries not found on this system:"; echo "$deps" | grep "not found"; status=1
  fi
  for lib in $(echo "$deps" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | sort -u); do
    pkg=$(owner "$lib")
    if [ -z "$pkg" ]; then
      echo "FAIL $rel loads $lib, which no installed package ships"; status=1
    elif [ -z "${seen[$pkg]:-}" ]; then
      echo "FAIL $rel loads $lib from $pkg, which is neither in Depends nor pulled in by it"; status=1
    fi
  done
  # Directly linked libraries: their packages are named in Depends itself.
  for soname in $(objdump -p "$f" 2>/dev/null | awk '/NEEDED/ { print $2 }'); do
    lib=$(echo "$deps" | awk -v s="$soname" '$1 == s && $3 ~ /^\// { print $3 }')
    [ -n "$lib" ] || continue
    pkg=$(owner "$lib")
    if [ -n "$pkg" ] && ! echo "$direct" | grep -qx "$pkg"; then
      echo "FAIL $rel links $soname ($pkg) but Depends does not name $pkg"; status=1
    fi
  done
done < <(find "$work/root" -type f -print0)

[ "$checked" -gt 0 ] || { echo "FAIL no ELF files in $deb"; exit 1; }
if objdump -p "$work/root/usr/bin/qcompress" 2>/dev/null | grep -q 'NEEDED.*libpoppler-cpp'; then
  echo "$direct" | grep -q '^libpoppler-cpp' || { echo "FAIL qcompress links libpoppler-cpp but Depends lacks it"; status=1; }
fi
[ $status -eq 0 ] && echo "ok: $checked ELF files, every library they load is covered by Depends ($(echo "$direct" | wc -l) packages named)"
exit $status
