#!/usr/bin/env bash
# fetch-assets.sh: download the front-end libraries that Gatehouse embeds.
#
# Every library is pinned to a version and to the SHA-512 integrity of its npm
# tarball (`npm view PKG@VERSION dist.integrity`). The tarball is verified before
# anything is extracted; a mismatch stops the build. Only the named file is taken
# out of the package and written to assets/vendor/ (git-ignored, embedded by Go).
#
# TEST_LIBS are tools the browser tests inject into pages (axe-core); they go
# to handlers/internal/browsertest/testdata/vendor/ (git-ignored), never into
# assets/vendor/, so that the binary does not carry them.
#
# Idempotent: a library is skipped when its target exists, still has the SHA-256
# recorded at extraction, and the folder's .stamp records the same version and
# integrity.
#
# To add a library, add one line to LIBS (or TEST_LIBS) and run `make assets`.
set -euo pipefail

# name  version  integrity  file-in-package  target (relative to assets/vendor/)
LIBS=(
	"htmx.org 2.0.11 sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA== dist/htmx.min.js htmx.min.js"
)
# name  version  integrity  file-in-package  target (relative to the test folder)
TEST_LIBS=(
	"axe-core 4.14.1 sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ== axe.min.js axe.min.js"
)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENDOR="$ROOT/assets/vendor"
TEST_VENDOR="$ROOT/handlers/internal/browsertest/testdata/vendor"
# Used only when npm is not installed; npm itself honours its own configuration.
REGISTRY=${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}
REGISTRY=${REGISTRY%/}

die() {
	echo "fetch-assets: $*" >&2
	exit 1
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# tarball_url NAME VERSION: the registry's conventional tarball address
# (scoped packages drop the scope from the file name).
tarball_url() {
	local name=$1 version=$2
	printf '%s/%s/-/%s-%s.tgz' "$REGISTRY" "$name" "${name##*/}" "$version"
}

# download NAME VERSION DIR: put the package tarball into DIR and print its path.
download() {
	local name=$1 version=$2 dir=$3 file
	if command -v npm >/dev/null 2>&1; then
		file=$(cd "$dir" && npm pack --silent "$name@$version" --pack-destination "$dir" </dev/null | tail -n1)
		file="$dir/$file"
	else
		file="$dir/package.tgz"
		curl -fsSL --retry 3 -o "$file" "$(tarball_url "$name" "$version")"
	fi
	[ -f "$file" ] || die "$name@$version: download produced no tarball"
	printf '%s\n' "$file"
}

hex_to_base64() {
	local hex=$1 i bin=""
	for ((i = 0; i < ${#hex}; i += 2)); do bin+="\\x${hex:i:2}"; done
	printf '%b' "$bin" | base64 -w0
}

# verify FILE INTEGRITY: compare the file's SHA-512 with an SRI string "sha512-BASE64".
verify() {
	local file=$1 integrity=$2 want got
	case "$integrity" in
	sha512-*) ;;
	*) die "$file: only sha512 integrity values are accepted, got '$integrity'" ;;
	esac
	want=$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	got=$(sha512sum "$file" | cut -d' ' -f1)
	if [ "$want" != "$got" ]; then
		echo "fetch-assets: INTEGRITY MISMATCH for $(basename "$file")" >&2
		echo "  pinned:     $integrity" >&2
		echo "  downloaded: sha512-$(hex_to_base64 "$got")" >&2
		exit 1
	fi
}

# extract TARBALL PATH-IN-PACKAGE DEST: npm tarballs hold one top folder
# (usually "package/"), so match the path below it.
extract() {
	local tgz=$1 inner=$2 dest=$3 member
	member=$(tar -tzf "$tgz" | awk -v want="$inner" '{ p = $0; sub(/^[^\/]*\//, "", p); if (p == want && !found) { print; found = 1 } }')
	[ -n "$member" ] || die "$(basename "$tgz"): has no file $inner"
	tar -xzf "$tgz" -O -- "$member" >"$dest.tmp"
	[ -s "$dest.tmp" ] || die "$(basename "$tgz"): $inner is empty"
	mv -f "$dest.tmp" "$dest"
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# fetch_into DIR ENTRY...: fetch, verify and record every entry in DIR, which
# keeps its own .stamp and VERSIONS.
fetch_into() {
	local dir=$1 rel entry name version integrity inner target extra dest key recorded work tgz sum
	shift
	rel=${dir#"$ROOT"/}
	local stamp="$dir/.stamp" versions="$dir/VERSIONS"
	local new_stamp="$TMP/stamp" new_versions="$TMP/versions" changed=0
	mkdir -p "$dir"
	[ -f "$stamp" ] || : >"$stamp"
	: >"$new_stamp"
	{
		echo "# Front-end libraries fetched by scripts/fetch-assets.sh (npm registry)."
		echo "# name version integrity file-in-package -> target sha256(target)"
	} >"$new_versions"

	for entry in "$@"; do
		extra=""
		read -r name version integrity inner target extra <<<"$entry"
		if [ -z "$target" ] || [ -n "${extra:-}" ]; then die "malformed entry: $entry"; fi
		case "$target" in
		/* | *..*) die "$name: target must stay inside $rel: $target" ;;
		esac
		dest="$dir/$target"
		key="$name $version $integrity $inner $target"

		# The stamp line is the key followed by the target's SHA-256.
		recorded=$(awk -v k="$key" 'index($0, k " ") == 1 { print $NF; exit }' "$stamp")
		if [ -f "$dest" ] && [ -n "$recorded" ] && [ "$recorded" = "$(sha256_of "$dest")" ]; then
			echo "fetch-assets: $name@$version up to date ($rel/$target)"
		else
			work="$TMP/$name"
			mkdir -p "$work"
			tgz=$(download "$name" "$version" "$work")
			verify "$tgz" "$integrity"
			mkdir -p "$(dirname "$dest")"
			extract "$tgz" "$inner" "$dest"
			echo "fetch-assets: $name@$version fetched, integrity verified -> $rel/$target"
			changed=1
		fi
		sum=$(sha256_of "$dest")
		echo "$key $sum" >>"$new_stamp"
		echo "$name $version $integrity $inner -> $target $sum" >>"$new_versions"
	done

	# Rewrite the records only when something changed, so a second run touches nothing.
	if [ "$changed" = 1 ] || ! cmp -s "$new_stamp" "$stamp" || ! cmp -s "$new_versions" "$versions" 2>/dev/null; then
		cp "$new_stamp" "$stamp"
		cp "$new_versions" "$versions"
	fi
}

fetch_into "$VENDOR" "${LIBS[@]}"
fetch_into "$TEST_VENDOR" "${TEST_LIBS[@]}"
