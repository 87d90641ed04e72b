#!/usr/bin/env bash
# install.sh: install Gatehouse as a systemd service.
#
#   sudo scripts/install.sh [--domain NAME]... [BINARY]
#
# BINARY defaults to ./bin/gatehouse (make build). The script installs it to
# /usr/local/bin/gatehouse, creates the system user "gatehouse", installs
# scripts/gatehouse.service, and starts the service. With --domain (repeatable) it
# writes GATEHOUSE_DOMAINS to the drop-in
# /etc/systemd/system/gatehouse.service.d/override.conf, and the panel serves HTTPS
# on port 443 with a certificate from ACME (port 80 must be reachable too).
# Running it again upgrades the binary and restarts the service; the data in
# /var/lib/gatehouse is kept.
set -euo pipefail

PROG=install.sh
BIN_DEST=/usr/local/bin/gatehouse
UNIT_DEST=/etc/systemd/system/gatehouse.service
DROPIN_DIR=/etc/systemd/system/gatehouse.service.d
DROPIN=$DROPIN_DIR/override.conf
SERVICE_USER=gatehouse
DATA_DIR=/var/lib/gatehouse
PASSWORD_FILE=$DATA_DIR/initial-admin-password

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	cat <<USAGE
Usage: sudo $0 [--domain NAME]... [BINARY]

Installs BINARY (default ./bin/gatehouse) as the systemd service "gatehouse".
  --domain NAME   serve HTTPS for NAME (repeatable; the first is the passkey domain)
  -h, --help      show this help
USAGE
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNIT_SRC=$SCRIPT_DIR/gatehouse.service
BIN_SRC=./bin/gatehouse
domains=()
bin_given=0

while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help)
		usage
		exit 0
		;;
	--domain)
		[ $# -ge 2 ] || die "--domain needs a NAME"
		domains+=("$2")
		shift 2
		;;
	--domain=*)
		domains+=("${1#--domain=}")
		shift
		;;
	-*)
		usage >&2
		die "unknown option: $1"
		;;
	*)
		[ "$bin_given" = 0 ] || die "only one BINARY may be given (got '$BIN_SRC' and '$1')"
		BIN_SRC=$1
		bin_given=1
		shift
		;;
	esac
done

for d in "${domains[@]}"; do
	# A DNS name: labels of letters, digits and hyphens, at least one dot.
	[[ "$d" =~ ^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] ||
		die "not a domain name: '$d'"
done

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0 $*)"
command -v systemctl >/dev/null 2>&1 || die "systemctl not found: this script needs a systemd system"
[ -d /run/systemd/system ] || die "systemd is not running on this machine (no /run/systemd/system)"
[ -f "$BIN_SRC" ] || die "no binary at $BIN_SRC (run 'make build' first, or pass its path)"
[ -f "$UNIT_SRC" ] || die "unit file not found: $UNIT_SRC"
"$BIN_SRC" version >/dev/null 2>&1 || die "$BIN_SRC does not run here ('$BIN_SRC version' failed: wrong architecture?)"

# The system user owns /var/lib/gatehouse (systemd creates it from StateDirectory=).
if ! getent passwd "$SERVICE_USER" >/dev/null; then
	useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
		--shell /usr/sbin/nologin --comment "Gatehouse web panel" "$SERVICE_USER"
	echo "$PROG: created system user $SERVICE_USER"
fi

was_active=0
systemctl is-active --quiet gatehouse && was_active=1

install -m 0755 -o root -g root "$BIN_SRC" "$BIN_DEST.new"
mv -f "$BIN_DEST.new" "$BIN_DEST"
install -m 0644 -o root -g root "$UNIT_SRC" "$UNIT_DEST"
echo "$PROG: installed $BIN_DEST ($("$BIN_DEST" version 2>/dev/null | head -n1))"
echo "$PROG: installed $UNIT_DEST"

if [ "${#domains[@]}" -gt 0 ]; then
	joined=$(
		IFS=,
		echo "${domains[*]}"
	)
	mkdir -p "$DROPIN_DIR"
	# Keep whatever else an admin put there (systemctl edit writes this file too);
	# replace only our line, in a [Service] section.
	if [ -f "$DROPIN" ]; then
		sed -i '/^Environment=GATEHOUSE_DOMAINS=/d' "$DROPIN"
		last_section=$(grep -E '^\[[^]]+\]' "$DROPIN" | tail -n1 || true)
		[ "$last_section" = "[Service]" ] || printf '\n[Service]\n' >>"$DROPIN"
	else
		printf '# Written by scripts/install.sh --domain.\n[Service]\n' >"$DROPIN"
	fi
	echo "Environment=GATEHOUSE_DOMAINS=$joined" >>"$DROPIN"
	chmod 0644 "$DROPIN"
	echo "$PROG: wrote $DROPIN (GATEHOUSE_DOMAINS=$joined)"
fi

systemctl daemon-reload
if [ "$was_active" = 1 ]; then
	systemctl enable gatehouse
	systemctl restart gatehouse
	echo "$PROG: restarted gatehouse"
else
	systemctl enable --now gatehouse
	echo "$PROG: started gatehouse"
fi

# Type=notify: the start job returns once the listeners are bound; give a failing
# start a moment to show itself, and the first start time to write the password file.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	if ! systemctl is-active --quiet gatehouse; then
		sleep 1
		continue
	fi
	[ -f "$PASSWORD_FILE" ] && break
	sleep 1
done

if ! systemctl is-active --quiet gatehouse; then
	systemctl --no-pager status gatehouse >&2 || true
	die "gatehouse is not running; see: journalctl -u gatehouse -n 50"
fi

echo
echo "Gatehouse is running."
if [ -f "$PASSWORD_FILE" ]; then
	echo "  First login: user 'admin', password in $PASSWORD_FILE"
	echo "  Read it with: sudo cat $PASSWORD_FILE"
	echo "  (the file is removed once that password is changed)"
else
	echo "  No $PASSWORD_FILE: the admin password was already changed or set by GATEHOUSE_ADMIN_PASSWORD."
fi
if [ "${#domains[@]}" -gt 0 ]; then
	echo "  URL: https://${domains[0]}/ (ports 80 and 443 must be reachable for the certificate)"
else
	echo "  URL: http://localhost:8080 (listens on 127.0.0.1 only)"
	echo "  From another machine, use an SSH tunnel:"
	echo "    ssh -L 8080:localhost:8080 ${SUDO_USER:-USER}@$(hostname -f 2>/dev/null || hostname)"
	echo "  then open http://localhost:8080"
fi
echo "  Command line: sudo gatehouse user list   (or: sudo -u $SERVICE_USER gatehouse user list)"
echo "  Logs: journalctl -u gatehouse"
