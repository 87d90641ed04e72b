#!/usr/bin/env bash
# test-deps.sh: make sure the programs the test suite drives are installed.
#
#   Debian packages: chromium (browser tests), oathtool (independent TOTP codes),
#                    libnss3-tools (certutil: trust a test CA in Chromium's NSS db),
#                    zbar-tools (zbarimg: decode the TOTP enrolment QR code),
#                    gcc + libc6-dev (`go test -race` needs cgo).
#   Go tools:        pebble and pebble-challtestsrv (a local ACME server for the
#                    certmagic tests) and staticcheck (the linter `make test`
#                    runs), pinned, installed into $(go env GOBIN) or
#                    $(go env GOPATH)/bin.
#
# As root, missing Debian packages are installed with apt-get; otherwise the script
# prints the exact command to run and exits 1. Prints one line per dependency.
set -euo pipefail

# Go tools: name, package, version.
GO_TOOLS=(
	"pebble github.com/letsencrypt/pebble/v2/cmd/pebble v2.10.3"
	"pebble-challtestsrv github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv v2.10.3"
	"staticcheck honnef.co/go/tools/cmd/staticcheck v0.8.2"
)

# command (or absolute file) to check  Debian package
APT_DEPS=(
	"curl curl"
	"/etc/ssl/certs/ca-certificates.crt ca-certificates"
	"git git"
	"/usr/bin/chromium chromium"
	"oathtool oathtool"
	"certutil libnss3-tools"
	"zbarimg zbar-tools"
	"gcc gcc"
	"/usr/include/stdlib.h libc6-dev"
)

GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	GO=/usr/local/go/bin/go
fi

have() {
	case "$1" in
	/*) [ -e "$1" ] ;;
	*) command -v "$1" >/dev/null 2>&1 ;;
	esac
}
where() { if [ "${1#/}" != "$1" ]; then echo "$1"; else command -v "$1"; fi; }

missing_pkgs=()
missing_cmds=()
for entry in "${APT_DEPS[@]}"; do
	read -r cmd pkg <<<"$entry"
	if have "$cmd"; then
		printf '%-22s present (%s)\n' "$pkg" "$(where "$cmd")"
	else
		missing_pkgs+=("$pkg")
		missing_cmds+=("$cmd")
	fi
done

if [ "${#missing_pkgs[@]}" -gt 0 ]; then
	install_cmd="apt-get install -y --no-install-recommends ${missing_pkgs[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "test-deps: missing ${missing_pkgs[*]}; install them as root with:" >&2
		echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive $install_cmd" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" </dev/null >/dev/null
	for i in "${!missing_pkgs[@]}"; do
		if ! have "${missing_cmds[$i]}"; then
			echo "test-deps: ${missing_pkgs[$i]} installed but ${missing_cmds[$i]} is still missing" >&2
			exit 1
		fi
		printf '%-22s installed (%s)\n' "${missing_pkgs[$i]}" "$(where "${missing_cmds[$i]}")"
	done
fi

if ! command -v "$GO" >/dev/null 2>&1; then
	echo "test-deps: no Go toolchain found (looked for '$GO' and /usr/local/go/bin/go)" >&2
	exit 1
fi
gobin=$("$GO" env GOBIN)
[ -n "$gobin" ] || gobin="$("$GO" env GOPATH | cut -d: -f1)/bin"

for entry in "${GO_TOOLS[@]}"; do
	read -r tool pkg version <<<"$entry"
	if [ -x "$gobin/$tool" ]; then
		printf '%-22s present (%s)\n' "$tool" "$gobin/$tool"
		continue
	fi
	# CGO off: a static binary, and no C compiler needed on a fresh machine.
	CGO_ENABLED=0 "$GO" install "$pkg@$version" </dev/null
	printf '%-22s installed (%s, %s)\n' "$tool" "$gobin/$tool" "$version"
done

case ":$PATH:" in
*":$gobin:"*) ;;
*) echo "test-deps: note: $gobin is not on PATH; tests look there too, or add it" ;;
esac
